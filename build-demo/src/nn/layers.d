build-demo/src/nn/layers.o: src/nn/layers.c src/nn/../core/core.h \
 include/netdx.h src/nn/../../kernels/kernels.h include/netdx_nn.h \
 include/netdx.h src/nn/nn_internal.h
src/nn/../core/core.h:
include/netdx.h:
src/nn/../../kernels/kernels.h:
include/netdx_nn.h:
include/netdx.h:
src/nn/nn_internal.h:

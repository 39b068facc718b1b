build-demo/src/nn/backward.o: src/nn/backward.c src/nn/nn_internal.h \
 src/nn/../core/core.h include/netdx.h include/netdx_nn.h include/netdx.h \
 src/nn/../../kernels/kernels.h
src/nn/nn_internal.h:
src/nn/../core/core.h:
include/netdx.h:
include/netdx_nn.h:
include/netdx.h:
src/nn/../../kernels/kernels.h:

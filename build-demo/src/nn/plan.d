build-demo/src/nn/plan.o: src/nn/plan.c src/nn/nn_internal.h \
 src/nn/../core/core.h include/netdx.h include/netdx_nn.h include/netdx.h \
 src/nn/../../kernels/kernels.h
src/nn/nn_internal.h:
src/nn/../core/core.h:
include/netdx.h:
include/netdx_nn.h:
include/netdx.h:
src/nn/../../kernels/kernels.h:

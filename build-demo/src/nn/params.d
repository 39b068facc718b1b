build-demo/src/nn/params.o: src/nn/params.c src/nn/nn_internal.h \
 src/nn/../core/core.h include/netdx.h include/netdx_nn.h include/netdx.h
src/nn/nn_internal.h:
src/nn/../core/core.h:
include/netdx.h:
include/netdx_nn.h:
include/netdx.h:

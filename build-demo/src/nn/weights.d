build-demo/src/nn/weights.o: src/nn/weights.c src/nn/../io/safetensors.h \
 src/nn/../io/../core/core.h include/netdx.h src/nn/nn_internal.h \
 src/nn/../core/core.h include/netdx_nn.h include/netdx.h
src/nn/../io/safetensors.h:
src/nn/../io/../core/core.h:
include/netdx.h:
src/nn/nn_internal.h:
src/nn/../core/core.h:
include/netdx_nn.h:
include/netdx.h:

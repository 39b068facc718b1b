build-demo/src/dissect/pass.o: src/dissect/pass.c src/dissect/dissect.h \
 src/dissect/../core/core.h include/netdx.h include/netdx_dissect.h \
 include/netdx.h src/dissect/../../kernels/kernels.h include/netdx_nn.h
src/dissect/dissect.h:
src/dissect/../core/core.h:
include/netdx.h:
include/netdx_dissect.h:
include/netdx.h:
src/dissect/../../kernels/kernels.h:
include/netdx_nn.h:

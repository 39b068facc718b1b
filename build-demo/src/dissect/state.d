build-demo/src/dissect/state.o: src/dissect/state.c src/dissect/dissect.h \
 src/dissect/../core/core.h include/netdx.h include/netdx_dissect.h \
 include/netdx.h src/dissect/../../kernels/kernels.h
src/dissect/dissect.h:
src/dissect/../core/core.h:
include/netdx.h:
include/netdx_dissect.h:
include/netdx.h:
src/dissect/../../kernels/kernels.h:

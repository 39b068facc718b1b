build-demo/src/dissect/merge.o: src/dissect/merge.c src/dissect/dissect.h \
 src/dissect/../core/core.h include/netdx.h include/netdx_dissect.h \
 include/netdx.h src/dissect/../../kernels/kernels.h
src/dissect/dissect.h:
src/dissect/../core/core.h:
include/netdx.h:
include/netdx_dissect.h:
include/netdx.h:
src/dissect/../../kernels/kernels.h:

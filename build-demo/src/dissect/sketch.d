build-demo/src/dissect/sketch.o: src/dissect/sketch.c \
 src/dissect/dissect.h src/dissect/../core/core.h include/netdx.h \
 include/netdx_dissect.h include/netdx.h \
 src/dissect/../../kernels/kernels.h
src/dissect/dissect.h:
src/dissect/../core/core.h:
include/netdx.h:
include/netdx_dissect.h:
include/netdx.h:
src/dissect/../../kernels/kernels.h:

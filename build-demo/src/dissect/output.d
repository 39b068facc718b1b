build-demo/src/dissect/output.o: src/dissect/output.c \
 src/dissect/dissect.h src/dissect/../core/core.h include/netdx.h \
 include/netdx_dissect.h include/netdx.h \
 src/dissect/../../kernels/kernels.h src/dissect/../io/io.h \
 src/dissect/../io/../core/core.h
src/dissect/dissect.h:
src/dissect/../core/core.h:
include/netdx.h:
include/netdx_dissect.h:
include/netdx.h:
src/dissect/../../kernels/kernels.h:
src/dissect/../io/io.h:
src/dissect/../io/../core/core.h:

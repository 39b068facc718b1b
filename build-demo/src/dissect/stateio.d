build-demo/src/dissect/stateio.o: src/dissect/stateio.c \
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

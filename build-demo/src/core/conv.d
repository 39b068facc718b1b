build-demo/src/core/conv.o: src/core/conv.c src/core/core.h \
 include/netdx.h src/core/../../kernels/kernels.h
src/core/core.h:
include/netdx.h:
src/core/../../kernels/kernels.h:

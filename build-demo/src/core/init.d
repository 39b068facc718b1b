build-demo/src/core/init.o: src/core/init.c src/core/core.h \
 include/netdx.h src/core/../../kernels/kernels.h
src/core/core.h:
include/netdx.h:
src/core/../../kernels/kernels.h:

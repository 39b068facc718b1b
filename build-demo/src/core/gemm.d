build-demo/src/core/gemm.o: src/core/gemm.c src/core/core.h \
 include/netdx.h src/core/../../kernels/kernels.h
src/core/core.h:
include/netdx.h:
src/core/../../kernels/kernels.h:

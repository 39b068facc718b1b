build-demo/kernels/dispatch.o: kernels/dispatch.c kernels/kernels.h \
 kernels/kernels.inc
kernels/kernels.h:
kernels/kernels.inc:

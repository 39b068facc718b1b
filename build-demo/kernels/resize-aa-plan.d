build-demo/kernels/resize-aa-plan.o: kernels/resize-aa-plan.c \
 kernels/kernels.h
kernels/kernels.h:

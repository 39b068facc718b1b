build-demo/kernels/bilinear-plan.o: kernels/bilinear-plan.c \
 kernels/kernels.h
kernels/kernels.h:

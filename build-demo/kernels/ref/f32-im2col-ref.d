build-demo/kernels/ref/f32-im2col-ref.o: kernels/ref/f32-im2col-ref.c \
 kernels/ref/../kernels.h
kernels/ref/../kernels.h:

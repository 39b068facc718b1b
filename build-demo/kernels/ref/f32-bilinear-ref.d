build-demo/kernels/ref/f32-bilinear-ref.o: kernels/ref/f32-bilinear-ref.c \
 kernels/ref/../kernels.h
kernels/ref/../kernels.h:

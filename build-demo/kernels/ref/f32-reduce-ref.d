build-demo/kernels/ref/f32-reduce-ref.o: kernels/ref/f32-reduce-ref.c \
 kernels/ref/../kernels.h
kernels/ref/../kernels.h:

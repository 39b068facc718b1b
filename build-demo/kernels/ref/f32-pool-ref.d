build-demo/kernels/ref/f32-pool-ref.o: kernels/ref/f32-pool-ref.c \
 kernels/ref/../kernels.h
kernels/ref/../kernels.h:

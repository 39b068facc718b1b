build-demo/kernels/ref/f32-gemm-ref.o: kernels/ref/f32-gemm-ref.c \
 kernels/ref/../kernels.h
kernels/ref/../kernels.h:

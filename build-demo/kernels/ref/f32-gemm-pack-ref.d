build-demo/kernels/ref/f32-gemm-pack-ref.o: \
 kernels/ref/f32-gemm-pack-ref.c kernels/ref/../kernels.h
kernels/ref/../kernels.h:

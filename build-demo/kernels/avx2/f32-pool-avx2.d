build-demo/kernels/avx2/f32-pool-avx2.o: kernels/avx2/f32-pool-avx2.c \
 kernels/avx2/../kernels.h
kernels/avx2/../kernels.h:

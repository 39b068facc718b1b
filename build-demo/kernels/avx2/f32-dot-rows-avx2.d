build-demo/kernels/avx2/f32-dot-rows-avx2.o: \
 kernels/avx2/f32-dot-rows-avx2.c kernels/avx2/../kernels.h
kernels/avx2/../kernels.h:

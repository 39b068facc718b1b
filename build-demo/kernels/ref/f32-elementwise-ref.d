build-demo/kernels/ref/f32-elementwise-ref.o: \
 kernels/ref/f32-elementwise-ref.c kernels/ref/../kernels.h
kernels/ref/../kernels.h:

build-demo/kernels/ref/f32-bilinear-plan-ref.o: \
 kernels/ref/f32-bilinear-plan-ref.c kernels/ref/../kernels.h
kernels/ref/../kernels.h:

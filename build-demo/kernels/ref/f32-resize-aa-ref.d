build-demo/kernels/ref/f32-resize-aa-ref.o: \
 kernels/ref/f32-resize-aa-ref.c kernels/ref/../kernels.h
kernels/ref/../kernels.h:

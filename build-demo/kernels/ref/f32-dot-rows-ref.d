build-demo/kernels/ref/f32-dot-rows-ref.o: kernels/ref/f32-dot-rows-ref.c \
 kernels/ref/../kernels.h
kernels/ref/../kernels.h:

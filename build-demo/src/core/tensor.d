build-demo/src/core/tensor.o: src/core/tensor.c src/core/core.h \
 include/netdx.h
src/core/core.h:
include/netdx.h:

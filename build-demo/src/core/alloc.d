build-demo/src/core/alloc.o: src/core/alloc.c src/core/core.h \
 include/netdx.h
src/core/core.h:
include/netdx.h:

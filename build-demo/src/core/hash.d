build-demo/src/core/hash.o: src/core/hash.c src/core/core.h \
 include/netdx.h
src/core/core.h:
include/netdx.h:

build-demo/src/io/npy.o: src/io/npy.c src/io/io.h src/io/../core/core.h \
 include/netdx.h
src/io/io.h:
src/io/../core/core.h:
include/netdx.h:

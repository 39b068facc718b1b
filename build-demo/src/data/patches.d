build-demo/src/data/patches.o: src/data/patches.c src/data/../core/core.h \
 include/netdx.h src/data/data.h src/data/../io/io.h \
 src/data/../io/../core/core.h
src/data/../core/core.h:
include/netdx.h:
src/data/data.h:
src/data/../io/io.h:
src/data/../io/../core/core.h:

build-demo/src/data/cbis.o: src/data/cbis.c src/data/../core/core.h \
 include/netdx.h src/data/../io/io.h src/data/../io/../core/core.h \
 src/data/data.h
src/data/../core/core.h:
include/netdx.h:
src/data/../io/io.h:
src/data/../io/../core/core.h:
src/data/data.h:

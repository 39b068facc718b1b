build-demo/src/data/manifest.o: src/data/manifest.c \
 src/data/../core/core.h include/netdx.h src/data/data.h \
 src/data/../io/io.h src/data/../io/../core/core.h
src/data/../core/core.h:
include/netdx.h:
src/data/data.h:
src/data/../io/io.h:
src/data/../io/../core/core.h:

build-demo/src/io/png.o: src/io/png.c src/io/../core/core.h \
 include/netdx.h src/io/../io/io.h src/io/../io/../core/core.h
src/io/../core/core.h:
include/netdx.h:
src/io/../io/io.h:
src/io/../io/../core/core.h:

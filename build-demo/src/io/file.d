build-demo/src/io/file.o: src/io/file.c src/io/io.h src/io/../core/core.h \
 include/netdx.h
src/io/io.h:
src/io/../core/core.h:
include/netdx.h:

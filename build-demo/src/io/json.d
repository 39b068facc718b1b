build-demo/src/io/json.o: src/io/json.c src/io/io.h src/io/../core/core.h \
 include/netdx.h
src/io/io.h:
src/io/../core/core.h:
include/netdx.h:

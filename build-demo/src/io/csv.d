build-demo/src/io/csv.o: src/io/csv.c src/io/../core/core.h \
 include/netdx.h src/io/../io/io.h src/io/../io/../core/core.h
src/io/../core/core.h:
include/netdx.h:
src/io/../io/io.h:
src/io/../io/../core/core.h:

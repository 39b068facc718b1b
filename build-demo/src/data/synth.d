build-demo/src/data/synth.o: src/data/synth.c src/data/../core/core.h \
 include/netdx.h src/data/data.h src/data/../io/io.h \
 src/data/../io/../core/core.h
src/data/../core/core.h:
include/netdx.h:
src/data/data.h:
src/data/../io/io.h:
src/data/../io/../core/core.h:

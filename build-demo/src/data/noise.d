build-demo/src/data/noise.o: src/data/noise.c src/data/data.h \
 include/netdx.h
src/data/data.h:
include/netdx.h:

build-demo/src/core/winograd.o: src/core/winograd.c src/core/core.h \
 include/netdx.h
src/core/core.h:
include/netdx.h:

build-demo/src/core/status.o: src/core/status.c src/core/core.h \
 include/netdx.h
src/core/core.h:
include/netdx.h:

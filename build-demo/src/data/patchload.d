build-demo/src/data/patchload.o: src/data/patchload.c \
 src/data/../core/core.h include/netdx.h src/data/data.h
src/data/../core/core.h:
include/netdx.h:
src/data/data.h:

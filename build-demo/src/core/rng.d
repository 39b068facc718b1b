build-demo/src/core/rng.o: src/core/rng.c src/core/core.h include/netdx.h
src/core/core.h:
include/netdx.h:

build-demo/src/data/lexicon.o: src/data/lexicon.c src/data/../core/core.h \
 include/netdx.h include/netdx_lexicon.h include/netdx.h
src/data/../core/core.h:
include/netdx.h:
include/netdx_lexicon.h:
include/netdx.h:

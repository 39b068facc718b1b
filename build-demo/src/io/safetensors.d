build-demo/src/io/safetensors.o: src/io/safetensors.c src/io/io.h \
 src/io/../core/core.h include/netdx.h src/io/safetensors.h
src/io/io.h:
src/io/../core/core.h:
include/netdx.h:
src/io/safetensors.h:

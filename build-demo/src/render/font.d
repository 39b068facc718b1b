build-demo/src/render/font.o: src/render/font.c src/render/font.h
src/render/font.h:

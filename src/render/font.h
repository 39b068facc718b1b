/* src/render: drawing for every stage's figures (private, not installed).
 * The 5x7 bitmap font (font.c) the plots (plot.c) write their text with. */
#ifndef NDX_RENDER_FONT_H
#define NDX_RENDER_FONT_H

#define NDX_FONT_W 5
#define NDX_FONT_H 7
#define NDX_FONT_CELL_H 9   /* rows of a character cell, descenders included */
#define NDX_FONT_ADVANCE 6   /* columns from one character to the next */

/* 1 when the glyph of c has ink at column x, row y of its cell (0,0 top
 * left, y < NDX_FONT_CELL_H). */
int ndx__font_pixel(char c, int x, int y);
/* 1 when c has a glyph of its own (not the box). */
int ndx__font_has(char c);

#endif

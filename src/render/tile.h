/* Private to src/render and the stages above it: the display tiles of a
 * patch cut from its source mammogram (the survey's and the dissection's):
 * display window, cut, the unit's highlight region, the outline of a mask,
 * PNG encoded in memory.  One copy for both stages (render sits below
 * dissect and survey in docs/layers.md; the lesion masks come from the
 * caller, as render may not use src/data). */
#ifndef NDX_RENDER_TILE_H
#define NDX_RENDER_TILE_H

#include <stddef.h>
#include <stdint.h>

#include "netdx.h"
#include "../io/io.h"

#define NDX__TILE_MIN 192   /* a tile's side: its box's, clamped */
#define NDX__TILE_MAX 320

/* The display window of a source image: the 0.5th and 99.5th percentiles of
 * the breast's pixels (those above 2% of full scale), as fractions of full
 * scale; 0..1 when the breast is too small or flat. */
void ndx__tile_window(const ndx_image *img, float *lo, float *hi);
/* v (0..1 of full scale) through the window, 0..255; NaN -> 0. */
uint8_t ndx__tile_windowed(float v, float lo, float hi);
/* The tile side of a w x h box: its longer side clamped to 192..320. */
int ndx__tile_size(int w, int h);
/* The box (x, y, w, h) of img area-resampled to S x S and windowed into
 * px (S x S bytes); work holds S x S floats.  name: the image in errors. */
ndx_status ndx__tile_cut(const ndx_image *img, const char *name, const int box[4], int S,
                         float lo, float hi, float *work, uint8_t *px);
/* The highlight region of a unit's h x w map at S x S: in[q] = 1 where the
 * bilinearly upsampled map (align_corners as F.interpolate) x scale >= cut.
 * The survey and the relative rule: scale 1 / the unit's top-1 score, cut
 * 0.2; a fixed threshold T: scale 1, cut just above T.  up: S x S floats. */
ndx_status ndx__tile_region(const float *map, int h, int w, int align_corners, float scale,
                            float cut, int S, float *up, uint8_t *in);
/* edge[q] = 1 for the in-mask pixels with an outside pixel (or the border)
 * in their 8-neighbourhood: the mask's 1 px inner outline. */
void ndx__tile_outline(const uint8_t *in, int S, uint8_t *edge);

#endif

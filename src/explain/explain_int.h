/* Private to src/explain: the maps (maps.c), the readers' labels
 * (labels.c), the region words and summary (words.c) and the outputs
 * (output.c, page.c). */
#ifndef NDX_EXPLAIN_INT_H
#define NDX_EXPLAIN_INT_H

#include "../core/core.h"
#include "netdx_explain.h"
#include "netdx_nn.h"

/* The head of a two-class net: dw[u] = w_cancer[u] - w_other[u] (units
 * floats) and *db = b_cancer - b_other. */
ndx_status ndx__explain_head(const ndx_net *net, int units, float *dw, float *db);

/* The classifier as a 1x1 convolution over act (units x h x w, the layer
 * feeding the global pool): z(p) = sum_u dw[u] act[u][p] + db, prob[p] =
 * P(cancer) = 1 / (1 + exp(-z(p))) (two classes).  prob may be NULL; z
 * (h x w) may be NULL. */
void ndx__explain_cam(const float *act, int units, int h, int w, const float *dw, float db,
                      float *z, float *prob);

/* The patch classifier: windows (x, y) of side s cut from img, resized
 * (area) to the net's input, batch by batch through net (planned for
 * inference at its batch): P(cancer) per window into prob (n).  keep >= 0:
 * after each batch calls each(ctx, first window, windows in batch). */
typedef struct ndx__explain_win {
    int x, y;
    unsigned edge;   /* NDX__EDGE_* bits: the sides that lie on the image's edge */
} ndx__explain_win;
enum { NDX__EDGE_LEFT = 1, NDX__EDGE_TOP = 2, NDX__EDGE_RIGHT = 4, NDX__EDGE_BOTTOM = 8 };
/* The window (x, y) of side s over an iw x ih image, its edge bits set
 * where it reaches the image's edge. */
ndx__explain_win ndx__explain_win_at(int x, int y, int side, int iw, int ih);
ndx_status ndx__explain_windows(ndx_net *net, const ndx_image *img, const ndx__explain_win *win,
                                int n, int side, float *prob,
                                ndx_status (*each)(void *ctx, ndx_net *net, int first, int n),
                                void *ctx);

/* The patch map from the 1x1-convolution logits z (ah x aw, spanning the
 * whole iw x ih image): per window (x, y, side) the mean of z over the
 * cells it covers, P(cancer) = 1 / (1 + exp(-mean)) into prob (n).  Exact
 * where the net has no padding and the windows align with its grid. */
void ndx__explain_fcn_windows(const float *z, int ah, int aw, int iw, int ih,
                              const ndx__explain_win *win, int n, int side, float *prob);

/* The maps m (units x fh x fw) of the window w of side s into the
 * image-wide maps acc (units x ah x aw, fh / s cells a pixel down, fw / s
 * across; the window's first cell at round(w.y fh / s), round(w.x fw / s),
 * cells past the edge dropped).  With n and best (ah x aw, zero at first):
 * each cell takes the value of the window in which it lies farthest from
 * the window's inner sides, those not on the image's edge (best: that
 * distance, in cells), the mean of the windows tied there (n: how many) --
 * a window's border cells, which feel its padding, give way to a
 * neighbour's inner ones.  Without n: the maximum over the windows. */
void ndx__explain_stitch(const float *m, int units, int fh, int fw, ndx__explain_win w,
                         int side, float *acc, int ah, int aw, float *n, float *best);
/* acc (units x ah x aw) divided by the windows n of each cell (the mean of
 * the tied windows); 0, and n set to 0, where no window was, and on the
 * outline of the windows' cover where the image goes on: a cell beside (or
 * diagonally beside) an uncovered one that only a window's outer ring on an
 * inner side saw (best < 1).  There the window saw its zero padding beyond
 * the cell, and units that detect the padding's edge light up along the
 * outline.  Unless that would leave no cell at all: then it stays. */
void ndx__explain_stitch_mean(float *acc, int units, int ah, int aw, float *n, const float *best);

/* ndx_explain on a net and image already in memory (the caller's, not
 * freed; the net is planned anew): what ndx_explain does after reading
 * them.  r is overwritten (free it with ndx_explain_free). */
ndx_status ndx__explain_net(const ndx_explain_opts *o, ndx_net *net, const ndx_image *img,
                            ndx_explain_result *r);

/* r->display: img at display size, windowed as the survey's tiles (output.c). */
ndx_status ndx__explain_display(const ndx_image *img, ndx_explain_result *r);

/* Readers' labels for r's top units (labels.c). */
ndx_status ndx__explain_labels(const ndx_explain_opts *o, ndx_explain_result *r);
/* The units' strips of top patches from a dissection folder (labels.c). */
void ndx__explain_strips(ndx_explain_result *r, const char *dir);

/* Where (x, y) lies, as far as the image and its side/view tell (words.c). */
void ndx__explain_region(const ndx_explain_result *r, const ndx_image *img, int thr, int x,
                         int y, char *buf, size_t n);
/* Side and view from the options or the file name (words.c). */
ndx_status ndx__explain_orientation(const ndx_explain_opts *o, ndx_explain_result *r);
/* r->summary from the labels and regions found (words.c). */
void ndx__explain_summary(ndx_explain_result *r);

/* dir/index.html for the displayed size dw x dh (page.c). */
ndx_status ndx__explain_page(const char *dir, const ndx_explain_result *r, int dw, int dh);

#endif

/* The two maps of netdx explain: the patch classifier slid over the
 * mammogram, and the classifier of a globally pooled net applied as a 1x1
 * convolution to the whole image's feature map. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "explain_int.h"

ndx_status ndx__explain_head(const ndx_net *net, int units, float *dw, float *db)
{
    const int nt = ndx_net_num_tensors(net);
    for (int i = nt - 1; i >= 0; i--) {
        ndx_param_info p;
        if (ndx_net_tensor(net, i, &p) || p.is_buffer || p.ndim != 2) continue;
        if (p.shape[0] != 2 || p.shape[1] != units)
            return ndx__fail(NDX_ERR_INVALID, "explain: head %s is %lldx%lld, want 2 classes "
                             "(other, malignant) x %d units", p.name, (long long)p.shape[0],
                             (long long)p.shape[1], units);
        for (int u = 0; u < units; u++) dw[u] = p.data[units + u] - p.data[u];
        ndx_param_info b;
        *db = 0;
        if (i + 1 < nt && !ndx_net_tensor(net, i + 1, &b) && !b.is_buffer && b.ndim == 1 &&
            b.shape[0] == 2)
            *db = b.data[1] - b.data[0];
        return NDX_OK;
    }
    return ndx__fail(NDX_ERR_INVALID, "explain: %s has no linear head", ndx_net_arch(net));
}

void ndx__explain_cam(const float *act, int units, int h, int w, const float *dw, float db,
                      float *z, float *prob)
{
    const size_t hw = (size_t)h * w;
    for (size_t p = 0; p < hw; p++) {
        double s = db;
        for (int u = 0; u < units; u++) s += (double)dw[u] * act[(size_t)u * hw + p];
        if (z) z[p] = (float)s;
        if (prob) prob[p] = (float)(1.0 / (1.0 + exp(-s)));
    }
}

ndx_status ndx__explain_windows(ndx_net *net, const ndx_image *img, const ndx__explain_win *win,
                                int n, int side, float *prob,
                                ndx_status (*each)(void *ctx, ndx_net *net, int first, int n),
                                void *ctx)
{
    const int B = ndx_net_batch(net), S = ndx_net_input_size(net);
    const int last = ndx_net_num_nodes(net) - 1;
    float *gray = calloc((size_t)B * S * S, sizeof *gray);
    float *x = malloc((size_t)B * 3 * S * S * sizeof *x);
    ndx_status st = gray && x ? NDX_OK : ndx__fail(NDX_ERR_NOMEM, "explain: out of memory");
    const int nt = ndx_get_threads();
    (void)nt;
    for (int first = 0; !st && first < n; first += B) {
        const int m = n - first < B ? n - first : B;
#pragma omp parallel for num_threads(nt) if (nt > 1 && m > 1) schedule(static)
        for (int b = 0; b < m; b++)
            ndx_resize_area_u16(img->px, img->w, win[first + b].x, win[first + b].y, side, side,
                                img->maxval, S, S, gray + (size_t)b * S * S);
        memset(gray + (size_t)m * S * S, 0, (size_t)(B - m) * S * S * sizeof *gray);
        ndx_gray_to_input(B, (size_t)S * S, gray, x);
        ndx_tensor z;
        st = ndx_net_forward(net, x, NDX_EVAL, -1);
        if (!st) st = ndx_net_output(net, last, &z);
        for (int b = 0; !st && b < m; b++) {
            const double d = (double)z.data[b * 2 + 1] - z.data[b * 2];
            if (!isfinite(d))
                st = ndx__fail(NDX_ERR_INVALID, "explain: the logits of window (%d, %d) are "
                               "not finite", win[first + b].x, win[first + b].y);
            else prob[first + b] = (float)(1.0 / (1.0 + exp(-d)));
        }
        if (!st && each) st = each(ctx, net, first, m);
    }
    free(gray), free(x);
    return st;
}

void ndx__explain_fcn_windows(const float *z, int ah, int aw, int iw, int ih,
                              const ndx__explain_win *win, int n, int side, float *prob)
{
    for (int i = 0; i < n; i++) {
        /* the cells whose centres the window holds: [c0, c1) down and across */
        int y0 = (int)lround((double)win[i].y * ah / ih);
        int y1 = (int)lround((double)(win[i].y + side) * ah / ih);
        int x0 = (int)lround((double)win[i].x * aw / iw);
        int x1 = (int)lround((double)(win[i].x + side) * aw / iw);
        y0 = y0 < ah - 1 ? y0 : ah - 1, x0 = x0 < aw - 1 ? x0 : aw - 1;
        y1 = y1 > y0 ? (y1 < ah ? y1 : ah) : y0 + 1;
        x1 = x1 > x0 ? (x1 < aw ? x1 : aw) : x0 + 1;
        double s = 0;
        for (int y = y0; y < y1; y++)
            for (int x = x0; x < x1; x++) s += z[(size_t)y * aw + x];
        prob[i] = (float)(1.0 / (1.0 + exp(-s / ((double)(y1 - y0) * (x1 - x0)))));
    }
}

ndx__explain_win ndx__explain_win_at(int x, int y, int side, int iw, int ih)
{
    ndx__explain_win w = {x, y, 0};
    w.edge = (x == 0 ? NDX__EDGE_LEFT : 0) | (y == 0 ? NDX__EDGE_TOP : 0) |
             (x + side >= iw ? NDX__EDGE_RIGHT : 0) | (y + side >= ih ? NDX__EDGE_BOTTOM : 0);
    return w;
}

/* How far cell (y, x) of an h x w map lies from the nearest of the map's
 * sides that are not on the image's edge (e: NDX__EDGE_* bits). */
static float centrality(int y, int x, int h, int w, unsigned e)
{
    float c = INFINITY;
    if (!(e & NDX__EDGE_LEFT)) c = fminf(c, x + 0.5f);
    if (!(e & NDX__EDGE_RIGHT)) c = fminf(c, w - x - 0.5f);
    if (!(e & NDX__EDGE_TOP)) c = fminf(c, y + 0.5f);
    if (!(e & NDX__EDGE_BOTTOM)) c = fminf(c, h - y - 0.5f);
    return c;
}

void ndx__explain_stitch(const float *m, int units, int fh, int fw, ndx__explain_win w,
                         int side, float *acc, int ah, int aw, float *n, float *best)
{
    const int oy = (int)lround((double)w.y * fh / side);
    const int ox = (int)lround((double)w.x * fw / side);
    const int h = oy + fh < ah ? fh : ah - oy, wd = ox + fw < aw ? fw : aw - ox;
    for (int u = 0; u < units; u++) {
        const float *src = m + (size_t)u * fh * fw;
        float *dst = acc + (size_t)u * ah * aw + (size_t)oy * aw + ox;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < wd; x++) {
                float *d = dst + (size_t)y * aw + x;
                const float v = src[y * fw + x];
                const size_t p = (size_t)(oy + y) * aw + ox + x;
                const float c = n ? centrality(y, x, fh, fw, w.edge) : 0;
                if (!n) *d = fmaxf(*d, v);
                else if (n[p] == 0 || c > best[p]) *d = v;   /* more central: replaces */
                else if (c == best[p]) *d += v;              /* as central: averaged */
            }
    }
    for (int y = 0; n && y < h; y++)   /* after the units, which compared with the old */
        for (int x = 0; x < wd; x++) {
            const size_t p = (size_t)(oy + y) * aw + ox + x;
            const float c = centrality(y, x, fh, fw, w.edge);
            if (n[p] == 0 || c > best[p]) best[p] = c, n[p] = 1;
            else if (c == best[p]) n[p] += 1;
        }
}

void ndx__explain_stitch_mean(float *acc, int units, int ah, int aw, float *n, const float *best)
{
    const size_t hw = (size_t)ah * aw;
    for (int y = 0; y < ah; y++)   /* marked -n first, so that the test sees the cover as was */
        for (int x = 0; x < aw; x++) {
            const size_t p = (size_t)y * aw + x;
            int outline = 0;
            for (int v = y > 0 ? y - 1 : 0; v <= y + 1 && v < ah; v++)
                for (int u = x > 0 ? x - 1 : 0; u <= x + 1 && u < aw; u++)
                    outline |= n[(size_t)v * aw + u] == 0;
            if (n[p] > 0 && best[p] < 1 && outline) n[p] = -n[p];
        }
    size_t kept = 0;   /* all on the outline (maps of a cell or two): the outline stays */
    for (size_t p = 0; p < hw; p++) kept += n[p] > 0;
    for (size_t p = 0; p < hw; p++) n[p] = n[p] < 0 ? (kept ? 0 : -n[p]) : n[p];
    for (int u = 0; u < units; u++)
        for (size_t p = 0; p < hw; p++) acc[u * hw + p] = n[p] > 0 ? acc[u * hw + p] / n[p] : 0;
}

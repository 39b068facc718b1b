/* Outlines: DDSM chain codes and polygons to filled masks, and masks back
 * to chain codes (see outline.h for the conventions).
 *
 * Filling: the polygon through the pixel centres is scanned row by row;
 * every non-horizontal edge a -> b crosses the rows y with
 * min(ya, yb) <= y < max(ya, yb) (half-open, so a vertex on a row counts
 * once), each crossing carrying the edge's direction (+1 down, -1 up); a
 * run between two crossings of a row is inside when the winding number
 * there is not zero.  The pixels the edges pass through are set too, so
 * an outline one pixel wide (a spur, a line) keeps all its pixels.
 *
 * Tracing: components are labelled (foreground 8-connected, background
 * 4-connected; background touching the image's edge is the outside), and
 * each is followed from its first pixel in raster order, clockwise, by
 * Moore-neighbour tracing (4-neighbour for holes), stopping when the start
 * pixel is about to be left by the first step again.  A foreground pixel
 * not on its component's outline lies strictly inside it; a 4-connected
 * background path cannot cross a diagonal step, nor an 8-connected
 * foreground path a step between 4-neighbours, so each region is its
 * component plus what the component encloses, and the exclusive-or of the
 * regions is the mask. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/core.h"
#include "import.h"

const int ndx__chain_dx[8] = {0, 1, 1, 1, 0, -1, -1, -1};
const int ndx__chain_dy[8] = {-1, -1, 0, 1, 1, 1, 0, -1};

/* Coordinates beyond this are refused (no image is this large). */
#define COORD_MAX 1e7

typedef struct cross {
    int y, dir;
    double x;
} cross;

static int cmp_cross(const void *a, const void *b)
{
    const cross *p = a, *q = b;
    if (p->y != q->y) return p->y < q->y ? -1 : 1;
    return (p->x > q->x) - (p->x < q->x);
}

/* Rows y in [0, h) with ylo <= y < yhi: *r0 .. *r1 (empty when r1 < r0). */
static void edge_rows(double ylo, double yhi, int h, long *r0, long *r1)
{
    double a = ceil(ylo), b = ceil(yhi) - 1;
    *r0 = a < 0 ? 0 : a > h ? h : (long)a;
    *r1 = b > h - 1 ? h - 1 : b < -1 ? -1 : (long)b;
}

/* The pixels of segment (x0, y0) - (x1, y1) (Bresenham), clipped. */
static void draw_line(long x0, long y0, long x1, long y1, uint8_t *mask, int w, int h,
                      uint8_t value)
{
    long dx = labs(x1 - x0), dy = -labs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    long err = dx + dy;
    for (;;) {
        if (x0 >= 0 && y0 >= 0 && x0 < w && y0 < h) mask[(size_t)y0 * w + x0] = value;
        if (x0 == x1 && y0 == y1) break;
        long e2 = 2 * err;
        if (e2 >= dy) err += dy, x0 += sx;
        if (e2 <= dx) err += dx, y0 += sy;
    }
}

ndx_status ndx__poly_fill(const double *xy, size_t n, uint8_t *mask, int w, int h, uint8_t value)
{
    if (n == 0) return ndx__fail(NDX_ERR_INVALID, "polygon: no point");
    for (size_t i = 0; i < 2 * n; i++)
        if (!isfinite(xy[i]) || fabs(xy[i]) > COORD_MAX)
            return ndx__fail(NDX_ERR_INVALID, "polygon: point %zu has %s %g, beyond +-%g", i / 2,
                             i % 2 ? "row" : "column", xy[i], COORD_MAX);
    size_t nc = 0;
    for (size_t i = 0; i < n; i++) {
        const double *a = xy + 2 * i, *b = xy + 2 * ((i + 1) % n);
        long r0, r1;
        edge_rows(fmin(a[1], b[1]), fmax(a[1], b[1]), h, &r0, &r1);
        if (a[1] != b[1] && r1 >= r0) nc += (size_t)(r1 - r0 + 1);
    }
    cross *c = nc ? malloc(nc * sizeof *c) : NULL;
    if (nc && !c) return ndx__fail(NDX_ERR_NOMEM, "polygon: out of memory for %zu crossings", nc);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const double *a = xy + 2 * i, *b = xy + 2 * ((i + 1) % n);
        if (a[1] == b[1]) continue;
        long r0, r1;
        edge_rows(fmin(a[1], b[1]), fmax(a[1], b[1]), h, &r0, &r1);
        for (long y = r0; y <= r1; y++)
            c[k++] = (cross){(int)y, b[1] > a[1] ? 1 : -1,
                             a[0] + ((double)y - a[1]) * (b[0] - a[0]) / (b[1] - a[1])};
    }
    if (nc) qsort(c, nc, sizeof *c, cmp_cross);
    long wind = 0;
    for (size_t i = 0; i + 1 < nc; i++) {
        if (i == 0 || c[i].y != c[i - 1].y) wind = 0;
        wind += c[i].dir;
        if (c[i + 1].y != c[i].y || wind == 0) continue;
        double xa = ceil(c[i].x), xb = floor(c[i + 1].x);
        long x0 = xa < 0 ? 0 : (long)xa, x1 = xb > w - 1 ? w - 1 : (long)xb;
        uint8_t *row = mask + (size_t)c[i].y * w;
        for (long x = x0; x <= x1; x++) row[x] = value;
    }
    free(c);
    for (size_t i = 0; i < n; i++) {
        const double *a = xy + 2 * i, *b = xy + 2 * ((i + 1) % n);
        draw_line(lround(a[0]), lround(a[1]), lround(b[0]), lround(b[1]), mask, w, h, value);
    }
    return NDX_OK;
}

void ndx__disc_fill(double x, double y, double r, uint8_t *mask, int w, int h, uint8_t value)
{
    if (!isfinite(x) || !isfinite(y) || !(r >= 0) || fabs(x) > COORD_MAX || fabs(y) > COORD_MAX)
        return;
    long y0 = (long)floor(y - r), y1 = (long)ceil(y + r), x0 = (long)floor(x - r),
         x1 = (long)ceil(x + r);
    for (long j = y0 < 0 ? 0 : y0; j <= y1 && j < h; j++)
        for (long i = x0 < 0 ? 0 : x0; i <= x1 && i < w; i++)
            if ((i - x) * (i - x) + (j - y) * (j - y) <= r * r + 1e-9) mask[(size_t)j * w + i] = value;
}

/* o's bounding box; NDX_ERR_FORMAT when a pixel leaves the w x h image. */
static ndx_status chain_box(const ndx__outline *o, int w, int h, const char *where, int box[4])
{
    long x = o->x0, y = o->y0;
    box[0] = box[2] = o->x0, box[1] = box[3] = o->y0;
    for (size_t i = 0; i <= o->n; i++) {
        if (x < 0 || y < 0 || x >= w || y >= h)
            return ndx__fail(NDX_ERR_FORMAT, "%s: the chain leaves the %dx%d image at step %zu "
                             "(column %ld, row %ld)", where, w, h, i, x, y);
        if (x < box[0]) box[0] = (int)x;
        if (y < box[1]) box[1] = (int)y;
        if (x > box[2]) box[2] = (int)x;
        if (y > box[3]) box[3] = (int)y;
        if (i == o->n) break;
        if (o->code[i] > 7)
            return ndx__fail(NDX_ERR_FORMAT, "%s: chain code %d at step %zu (0-7 expected)", where,
                             o->code[i], i + 1);
        x += ndx__chain_dx[o->code[i]], y += ndx__chain_dy[o->code[i]];
    }
    return NDX_OK;
}

ndx_status ndx__chain_check(const ndx__outline *o, int w, int h, const char *where)
{
    int box[4];
    return chain_box(o, w, h, where, box);
}

/* o's points, shifted by (-ox, -oy): n + 1 pairs (malloc'd). */
static double *chain_points(const ndx__outline *o, int ox, int oy)
{
    double *p = malloc((o->n + 1) * 2 * sizeof *p);
    if (!p) {
        ndx__fail(NDX_ERR_NOMEM, "outline: out of memory for %zu points", o->n + 1);
        return NULL;
    }
    long x = o->x0 - ox, y = o->y0 - oy;
    for (size_t i = 0; i <= o->n; i++) {
        p[2 * i] = (double)x, p[2 * i + 1] = (double)y;
        if (i < o->n) x += ndx__chain_dx[o->code[i]], y += ndx__chain_dy[o->code[i]];
    }
    return p;
}

ndx_status ndx__chain_fill(const ndx__outline *o, uint8_t *mask, int w, int h, uint8_t value,
                           const char *where)
{
    int box[4];
    ndx_status st = chain_box(o, w, h, where, box);
    if (st) return st;
    double *p = chain_points(o, 0, 0);
    if (!p) return NDX_ERR_NOMEM;
    st = ndx__poly_fill(p, o->n + 1, mask, w, h, value);
    free(p);
    return st;
}

ndx_status ndx__outlines_fill(const ndx__outline *o, size_t n, uint8_t *mask, int w, int h,
                              const char *where)
{
    memset(mask, 0, (size_t)w * h);
    for (size_t k = 0; k < n; k++) {
        int box[4];
        ndx_status st = chain_box(&o[k], w, h, where, box);
        if (st) return st;
        const int bw = box[2] - box[0] + 1, bh = box[3] - box[1] + 1;
        uint8_t *tmp = calloc((size_t)bw * bh, 1);
        double *p = tmp ? chain_points(&o[k], box[0], box[1]) : NULL;
        st = !tmp ? ndx__fail(NDX_ERR_NOMEM, "outline: out of memory for a %dx%d box", bw, bh)
             : !p ? NDX_ERR_NOMEM
                  : ndx__poly_fill(p, o[k].n + 1, tmp, bw, bh, 255);
        for (int y = 0; st == NDX_OK && y < bh; y++)
            for (int x = 0; x < bw; x++)
                mask[(size_t)(box[1] + y) * w + box[0] + x] ^= tmp[(size_t)y * bw + x];
        free(tmp), free(p);
        if (st) return st;
    }
    return NDX_OK;
}

/* ---- tracing ---------------------------------------------------------------- */

/* Labels the components of mask into lab (w x h): foreground 8-connected
 * 1, 2, ...; background 4-connected -1, -2, ...; seeds[] (malloc'd, *ns)
 * the first pixel of each in raster order, with outer[i] = 1 for the
 * background touching the image's edge. */
typedef struct comp {
    int32_t id;
    int outer;
    size_t seed;
} comp;

static ndx_status label(const uint8_t *mask, int w, int h, int32_t *lab, comp **out, size_t *nout)
{
    const size_t npx = (size_t)w * h;
    size_t *stack = malloc(npx * sizeof *stack), cap = 64, nc = 0;
    comp *cs = malloc(cap * sizeof *cs);
    if (!stack || !cs) {
        free(stack), free(cs);
        return ndx__fail(NDX_ERR_NOMEM, "outline: out of memory to label a %dx%d mask", w, h);
    }
    memset(lab, 0, npx * sizeof *lab);
    int32_t nfg = 0, nbg = 0;
    for (size_t s = 0; s < npx; s++) {
        if (lab[s]) continue;
        const int fg = mask[s] != 0;
        const int32_t id = fg ? ++nfg : -++nbg;
        int outer = 0;
        size_t top = 0;
        stack[top++] = s;
        lab[s] = id;
        while (top) {
            size_t p = stack[--top];
            int x = (int)(p % w), y = (int)(p / w);
            if (x == 0 || y == 0 || x == w - 1 || y == h - 1) outer = 1;
            for (int d = 0; d < 8; d += fg ? 1 : 2) {
                int nx = x + ndx__chain_dx[d], ny = y + ndx__chain_dy[d];
                if (nx < 0 || ny < 0 || nx >= w || ny >= h) continue;
                size_t q = (size_t)ny * w + nx;
                if (lab[q] || (mask[q] != 0) != fg) continue;
                lab[q] = id;
                stack[top++] = q;
            }
        }
        if (nc == cap) {
            comp *more = realloc(cs, 2 * cap * sizeof *cs);
            if (!more) {
                free(stack), free(cs);
                return ndx__fail(NDX_ERR_NOMEM, "outline: out of memory for %zu components", nc);
            }
            cs = more, cap *= 2;
        }
        cs[nc++] = (comp){id, fg ? 0 : outer, s};
    }
    free(stack);
    *out = cs, *nout = nc;
    return NDX_OK;
}

/* Follows component id (label array lab) from its first pixel s: 8- or
 * 4-neighbour steps into o. */
static ndx_status trace(const int32_t *lab, int w, int h, size_t s, int conn8, ndx__outline *o)
{
    const int32_t id = lab[s];
    const int sx = (int)(s % w), sy = (int)(s / w);
    size_t cap = 64, limit = 4 * (size_t)w * h + 16;
    memset(o, 0, sizeof *o);
    o->x0 = sx, o->y0 = sy, o->hole = !conn8;
    int x = sx, y = sy, d = conn8 ? 0 : 2, first = -1;
    for (;;) {
        const int start = conn8 ? d + ((d & 1) ? 6 : 7) : d + 6;
        int found = -1;
        for (int k = 0; k < 8 && found < 0; k += conn8 ? 1 : 2) {
            int dd = (start + k) & 7, nx = x + ndx__chain_dx[dd], ny = y + ndx__chain_dy[dd];
            if (nx >= 0 && ny >= 0 && nx < w && ny < h && lab[(size_t)ny * w + nx] == id) found = dd;
        }
        if (found < 0) break;
        if (first < 0) first = found;
        else if (x == sx && y == sy && found == first) break;
        if (o->n == limit) return ndx__fail(NDX_ERR_INVALID, "outline: trace did not close");
        if (!o->code || o->n == cap) {
            uint8_t *more = realloc(o->code, o->code ? (cap *= 2) : cap);
            if (!more) return ndx__fail(NDX_ERR_NOMEM, "outline: out of memory for a chain");
            o->code = more;
        }
        o->code[o->n++] = (uint8_t)found;
        x += ndx__chain_dx[found], y += ndx__chain_dy[found], d = found;
    }
    return NDX_OK;
}

ndx_status ndx__mask_trace(const uint8_t *mask, int w, int h, ndx__outline **out, size_t *n)
{
    *out = NULL, *n = 0;
    if (w < 1 || h < 1) return ndx__fail(NDX_ERR_INVALID, "outline: a %dx%d mask", w, h);
    int32_t *lab = malloc((size_t)w * h * sizeof *lab);
    if (!lab) return ndx__fail(NDX_ERR_NOMEM, "outline: out of memory for a %dx%d mask", w, h);
    comp *cs = NULL;
    size_t nc = 0;
    ndx_status st = label(mask, w, h, lab, &cs, &nc);
    ndx__outline *o = st ? NULL : calloc(nc ? nc : 1, sizeof *o);
    if (!st && !o) st = ndx__fail(NDX_ERR_NOMEM, "outline: out of memory for %zu outlines", nc);
    size_t k = 0;
    for (size_t i = 0; i < nc && st == NDX_OK; i++) {
        if (cs[i].outer) continue;
        st = trace(lab, w, h, cs[i].seed, cs[i].id > 0, &o[k]);
        k++;
    }
    free(lab), free(cs);
    if (st) {
        ndx__outlines_free(o, k);
        return st;
    }
    *out = o, *n = k;
    return NDX_OK;
}

void ndx__outlines_free(ndx__outline *o, size_t n)
{
    if (!o) return;
    for (size_t i = 0; i < n; i++) free(o[i].code);
    free(o);
}

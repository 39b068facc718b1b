/* Patch pixels and lesion masks at the network's size, through a bounded
 * LRU cache of decoded PNGs shared between threads.
 *
 * The resize is an area (box) filter: output pixel (i, j) of an oh x ow grid
 * over box (x, y, bw, bh) averages the source over
 * [x + j*bw/ow, x + (j+1)*bw/ow) x [y + i*bh/oh, y + (i+1)*bh/oh), each
 * source pixel weighted by the length it covers along each axis.  When the
 * box is smaller than the grid this is nearest-neighbour-like.  Plain C,
 * no allocation; the inner loop may be swapped for SIMD kernels. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/core.h"
#include "data.h"

typedef struct entry {
    char *path;         /* the file, as opened (owned) */
    uint64_t key;
    ndx_image img;
    size_t bytes;
    uint64_t stamp;     /* last use */
    int refs;           /* users outside the lock */
    int used;
} entry;

struct ndx_patch_cache {
    pthread_mutex_t mu;
    size_t max_bytes, bytes;
    uint64_t clock;
    entry *e;
    int n;
};

#define CACHE_SLOTS 256

ndx_patch_cache *ndx_patch_cache_new(size_t max_bytes)
{
    ndx_patch_cache *c = calloc(1, sizeof *c);
    if (!c) {
        ndx__fail(NDX_ERR_NOMEM, "patch cache: out of memory");
        return NULL;
    }
    c->e = calloc(CACHE_SLOTS, sizeof *c->e);
    if (!c->e || pthread_mutex_init(&c->mu, NULL)) {
        free(c->e);
        free(c);
        ndx__fail(NDX_ERR_NOMEM, "patch cache: out of memory");
        return NULL;
    }
    c->n = CACHE_SLOTS;
    c->max_bytes = max_bytes;
    return c;
}

void ndx_patch_cache_free(ndx_patch_cache *c)
{
    if (!c) return;
    for (int i = 0; i < c->n; i++) ndx_image_free(&c->e[i].img), free(c->e[i].path);
    pthread_mutex_destroy(&c->mu);
    free(c->e);
    free(c);
}

/* Evicts least recently used idle entries until `need` more bytes fit. */
static void evict(ndx_patch_cache *c, size_t need)
{
    while (c->bytes + need > c->max_bytes) {
        int victim = -1;
        for (int i = 0; i < c->n; i++)
            if (c->e[i].used && !c->e[i].refs && (victim < 0 || c->e[i].stamp < c->e[victim].stamp))
                victim = i;
        if (victim < 0) return;   /* everything is in use: go over the bound briefly */
        c->bytes -= c->e[victim].bytes;
        ndx_image_free(&c->e[victim].img);
        c->e[victim].used = 0;
    }
}

/* Returns a referenced entry holding path's pixels (decoded if need be). */
static ndx_status acquire(ndx_patch_cache *c, const char *path, entry **out)
{
    uint64_t key = ndx_hash_str(path, 0);
    pthread_mutex_lock(&c->mu);
    for (int i = 0; i < c->n; i++) {
        entry *e = &c->e[i];
        if (e->used && e->key == key && !strcmp(e->path, path)) {
            e->refs++;
            e->stamp = ++c->clock;
            pthread_mutex_unlock(&c->mu);
            *out = e;
            return NDX_OK;
        }
    }
    pthread_mutex_unlock(&c->mu);
    /* decode outside the lock */
    ndx_image img;
    ndx_status st = ndx_image_read(path, 0, &img, NULL);
    if (st != NDX_OK) return st;
    char *copy = ndx__strf("%s", path);
    if (!copy) {
        ndx_image_free(&img);
        return NDX_ERR_NOMEM;
    }
    size_t bytes = (size_t)img.w * img.h * sizeof *img.px;
    pthread_mutex_lock(&c->mu);
    for (int i = 0; i < c->n; i++) {   /* another thread may have loaded it meanwhile */
        entry *e = &c->e[i];
        if (e->used && e->key == key && !strcmp(e->path, path)) {
            e->refs++;
            e->stamp = ++c->clock;
            pthread_mutex_unlock(&c->mu);
            ndx_image_free(&img);
            free(copy);
            *out = e;
            return NDX_OK;
        }
    }
    evict(c, bytes);
    int slot = -1;
    for (int i = 0; i < c->n && slot < 0; i++)
        if (!c->e[i].used) slot = i;
    if (slot < 0) {   /* all slots busy: evict the oldest idle one */
        for (int i = 0; i < c->n; i++)
            if (!c->e[i].refs && (slot < 0 || c->e[i].stamp < c->e[slot].stamp)) slot = i;
        if (slot < 0) {
            pthread_mutex_unlock(&c->mu);
            ndx_image_free(&img);
            free(copy);
            return ndx__fail(NDX_ERR_NOMEM, "patch cache: all %d slots are in use", c->n);
        }
        c->bytes -= c->e[slot].bytes;
        ndx_image_free(&c->e[slot].img);
    }
    entry *e = &c->e[slot];
    free(e->path);
    e->path = copy;
    e->key = key;
    e->img = img;
    e->bytes = bytes;
    e->stamp = ++c->clock;
    e->refs = 1;
    e->used = 1;
    c->bytes += bytes;
    pthread_mutex_unlock(&c->mu);
    *out = e;
    return NDX_OK;
}

static void release(ndx_patch_cache *c, entry *e)
{
    pthread_mutex_lock(&c->mu);
    e->refs--;
    evict(c, 0);
    pthread_mutex_unlock(&c->mu);
}

void ndx_resize_area_u16(const uint16_t *src, int w, int x, int y, int bw, int bh, int maxval,
                         int oh, int ow, float *out)
{
    const double sx = (double)bw / ow, sy = (double)bh / oh;
    const double norm = 1.0 / ((double)maxval * sx * sy);
    for (int i = 0; i < oh; i++) {
        double ya = y + i * sy, yb = ya + sy;
        int r0 = (int)ya, r1 = (int)(yb - 1e-9);
        for (int j = 0; j < ow; j++) {
            double xa = x + j * sx, xb = xa + sx;
            int c0 = (int)xa, c1 = (int)(xb - 1e-9);
            double acc = 0;
            for (int r = r0; r <= r1; r++) {
                double wy = (r + 1 < yb ? r + 1 : yb) - (r > ya ? r : ya);
                const uint16_t *row = src + (size_t)r * w;
                double racc = 0;
                for (int q = c0; q <= c1; q++) {
                    double wx = (q + 1 < xb ? q + 1 : xb) - (q > xa ? q : xa);
                    racc += wx * row[q];
                }
                acc += wy * racc;
            }
            out[(size_t)i * ow + j] = (float)(acc * norm);
        }
    }
}

static ndx_status check_patch(const ndx_patch_index *ix, size_t i, int oh, int ow)
{
    if (i >= ix->n) return ndx__fail(NDX_ERR_INVALID, "patch %zu: index has %zu patches", i, ix->n);
    if (oh < 1 || ow < 1 || oh > 8192 || ow > 8192)
        return ndx__fail(NDX_ERR_INVALID, "patch %zu: output size %dx%d out of 1..8192", i, oh, ow);
    return NDX_OK;
}

ndx_status ndx_patch_load(ndx_patch_cache *c, const ndx_patch_index *ix, size_t i, int s, float *out)
{
    ndx_status st = check_patch(ix, i, s, s);
    if (st != NDX_OK) return st;
    const ndx_patch *p = &ix->patches[i];
    const ndx_patch_image *im = &ix->images[p->image];
    char *path = ndx__join(ix->dir, im->path);
    if (!path) return NDX_ERR_NOMEM;
    entry *e;
    st = acquire(c, path, &e);
    free(path);
    if (st != NDX_OK) return st;
    if (e->img.w != im->width || e->img.h != im->height)
        st = ndx__fail(NDX_ERR_FORMAT, "%s is %dx%d but %s/patches.csv was made for a %dx%d image "
                       "(its image_size): the images changed after `netdx patches`; run it again "
                       "(netdx patches --data %s)", e->path, e->img.w, e->img.h, ix->dir, im->width,
                       im->height, ix->dir);
    else if (p->x < 0 || p->y < 0 || p->w > e->img.w - p->x || p->h > e->img.h - p->y)
        st = ndx__fail(NDX_ERR_FORMAT, "%s: patch %zu's box (%d,%d,%d,%d) lies outside the %dx%d image",
                       e->path, i, p->x, p->y, p->w, p->h, e->img.w, e->img.h);
    else
        ndx_resize_area_u16(e->img.px, e->img.w, p->x, p->y, p->w, p->h, e->img.maxval, s, s, out);
    release(c, e);
    return st;
}

ndx_status ndx_patch_masks(ndx_patch_cache *c, const ndx_patch_index *ix, size_t i, int h, int w,
                           float *out)
{
    ndx_status st = check_patch(ix, i, h, w);
    if (st != NDX_OK) return st;
    const ndx_patch *p = &ix->patches[i];
    const ndx_patch_image *im = &ix->images[p->image];
    size_t plane = (size_t)h * w;
    memset(out, 0, sizeof *out * plane * 2 * NDX_LESION_KINDS);
    for (size_t r = 0; r < im->nrows; r++) {
        const ndx_manifest_row *row = &ix->manifest.rows[im->first_row + r];
        int kind = ndx_lesion_kind(row);
        if (kind < 0) continue;
        char *path = ndx__join(ix->dir, row->mask_path);
        if (!path) return NDX_ERR_NOMEM;
        entry *e;
        st = acquire(c, path, &e);
        free(path);
        if (st != NDX_OK) return st;
        /* masks of another size than their image: the box is scaled */
        int bx = p->x, by = p->y, bw = p->w, bh = p->h;
        if (e->img.w != im->width || e->img.h != im->height) {
            double fx = (double)e->img.w / im->width, fy = (double)e->img.h / im->height;
            bx = (int)(p->x * fx), by = (int)(p->y * fy);
            bw = (int)(p->w * fx), bh = (int)(p->h * fy);
            if (bw < 1) bw = 1;
            if (bh < 1) bh = 1;
            if (bw > e->img.w - bx) bx = e->img.w - bw;
            if (bh > e->img.h - by) by = e->img.h - bh;
            if (bx < 0 || by < 0) {
                st = ndx__fail(NDX_ERR_FORMAT, "%s: mask too small for patch %zu", e->path, i);
                release(c, e);
                return st;
            }
        }
        if (bx < 0 || by < 0 || bw > e->img.w - bx || bh > e->img.h - by) {
            st = ndx__fail(NDX_ERR_FORMAT, "%s: patch %zu's box lies outside the %dx%d mask",
                           e->path, i, e->img.w, e->img.h);
            release(c, e);
            return st;
        }
        /* the resized mask goes to the tail plane of this kind, then is merged */
        float *mal = out + plane * (2 * kind), *all = out + plane * (2 * kind + 1);
        float tmp[64];
        int malignant = !strcmp(row->pathology, "MALIGNANT");
        /* row by row through a small buffer: no allocation */
        for (int yy = 0; yy < h; yy++)
            for (int x0 = 0; x0 < w; x0 += 64) {
                int n = w - x0 < 64 ? w - x0 : 64;
                /* one output row segment: resize a 1 x n grid cut from the box */
                double sx = (double)bw / w, sy = (double)bh / h;
                int cx = bx, cy = by;
                double ya = cy + yy * sy;
                for (int j = 0; j < n; j++) {
                    double xa = cx + (x0 + j) * sx, xb = xa + sx, yb = ya + sy;
                    int r0 = (int)ya, r1 = (int)(yb - 1e-9), c0 = (int)xa, c1 = (int)(xb - 1e-9);
                    double acc = 0;
                    for (int rr = r0; rr <= r1; rr++) {
                        double wy = (rr + 1 < yb ? rr + 1 : yb) - (rr > ya ? rr : ya);
                        const uint16_t *src = e->img.px + (size_t)rr * e->img.w;
                        for (int q = c0; q <= c1; q++) {
                            double wx = (q + 1 < xb ? q + 1 : xb) - (q > xa ? q : xa);
                            acc += wx * wy * (src[q] * 2 > e->img.maxval);
                        }
                    }
                    tmp[j] = (float)(acc / (sx * sy));
                }
                for (int j = 0; j < n; j++) {
                    size_t o = (size_t)yy * w + x0 + j;
                    if (tmp[j] > all[o]) all[o] = tmp[j];
                    if (malignant && tmp[j] > mal[o]) mal[o] = tmp[j];
                }
            }
        release(c, e);
    }
    return NDX_OK;
}

/* One input of the plan: dir/rel, when rel is given. */
static ndx_status plan_in(ndx_ioplan *p, const char *what, const char *dir, const char *rel,
                          const char *may_be)
{
    if (!rel[0]) return NDX_OK;
    char *path = ndx__join(dir, rel);
    ndx_status st = path ? ndx_ioplan_input(p, what, path, may_be) : NDX_ERR_NOMEM;
    free(path);
    return st;
}

ndx_status ndx_ioplan_patches(ndx_ioplan *p, const ndx_patch_index *ix)
{
    ndx_status st = plan_in(p, "patches.csv", ix->dir, "patches.csv", "patches.csv");
    if (!st) st = plan_in(p, "manifest.csv", ix->dir, "manifest.csv", NULL);
    for (size_t i = 0; i < ix->nimages && !st; i++)
        st = plan_in(p, "a mammogram", ix->dir, ix->images[i].path, NULL);
    for (size_t i = 0; i < ix->manifest.n && !st; i++)
        st = plan_in(p, "a lesion mask", ix->dir, ix->manifest.rows[i].mask_path, NULL);
    return st;
}

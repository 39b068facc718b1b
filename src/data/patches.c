/* Sliding-window patches over the manifest's images: the label rule, the
 * per-kind lesion overlaps, the patient split, patches.csv. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/core.h"
#include "data.h"
#include "../io/io.h"

char *ndx__join(const char *dir, const char *rel)
{
    return rel[0] == '/' ? ndx__strf("%s", rel) : ndx__strf("%s/%s", dir, rel);
}

const char *ndx_split_name(int split)
{
    return split == NDX_SPLIT_TRAIN ? "train" : split == NDX_SPLIT_VAL ? "val"
                                              : split == NDX_SPLIT_TEST ? "test" : "?";
}

/* Split sizes of n patients: val and test round(n/10) each, at least one
 * each from 3 patients on; train the rest. */
static void split_counts(size_t n, size_t c[3])
{
    size_t k = (n + 5) / 10;
    if (n >= 3 && k < 1) k = 1;
    if (n < 3) k = 0;
    c[NDX_SPLIT_VAL] = c[NDX_SPLIT_TEST] = k;
    c[NDX_SPLIT_TRAIN] = n - 2 * k;
}

typedef struct split_key {
    uint64_t h;
    const char *id;
    size_t i;
} split_key;

static int cmp_key(const void *a, const void *b)
{
    const split_key *x = a, *y = b;
    if (x->h != y->h) return x->h < y->h ? -1 : 1;
    return strcmp(x->id, y->id);
}

/* Cuts the keys (in hash order) into the quotas q: train first, then val,
 * then test. */
static void cut(const split_key *k, size_t n, const size_t q[3], int *split)
{
    for (size_t j = 0; j < n; j++)
        split[k[j].i] = j < q[0] ? NDX_SPLIT_TRAIN : j < q[0] + q[1] ? NDX_SPLIT_VAL : NDX_SPLIT_TEST;
}

ndx_status ndx_split_assign(const char *const *ids, const int *malignant, size_t n, uint64_t seed,
                            int stratify, int *split)
{
    split_key *k = malloc((n ? n : 1) * sizeof *k);
    if (!k) return ndx__fail(NDX_ERR_NOMEM, "split: out of memory for %zu patients", n);
    size_t nm = 0;
    for (size_t i = 0; i < n; i++) {
        k[i] = (split_key){ndx_hash_str(ids[i], seed), ids[i], i};
        nm += stratify && malignant && malignant[i];
    }
    qsort(k, n, sizeof *k, cmp_key);
    size_t q[3], qm[3] = {0, 0, 0}, qb[3];
    split_counts(n, q);
    if (nm) {
        /* malignant patients first: the same rule over their count (two:
         * train and val), within the split sizes, the excess to train */
        split_counts(nm, qm);
        if (nm == 2) qm[0] = qm[1] = 1;
        size_t placed = 0;
        for (int s = 0; s < 3; s++) placed += qm[s] = qm[s] < q[s] ? qm[s] : q[s];
        for (int s = 0; s < 3; s++) {
            size_t more = q[s] - qm[s] < nm - placed ? q[s] - qm[s] : nm - placed;
            qm[s] += more, placed += more;
        }
        split_key *a = malloc(nm * sizeof *a), *b = malloc((n - nm ? n - nm : 1) * sizeof *b);
        if (!a || !b) {
            free(a), free(b), free(k);
            return ndx__fail(NDX_ERR_NOMEM, "split: out of memory for %zu patients", n);
        }
        for (size_t i = 0, ia = 0, ib = 0; i < n; i++)
            if (malignant[k[i].i]) a[ia++] = k[i];
            else b[ib++] = k[i];
        for (int s = 0; s < 3; s++) qb[s] = q[s] - qm[s];
        cut(a, nm, qm, split);
        cut(b, n - nm, qb, split);
        free(a), free(b);
    } else {
        cut(k, n, q, split);
    }
    free(k);
    return NDX_OK;
}

/* inside >= frac * total, exactly, with frac rounded to per mille */
static int at_least(int64_t inside, int64_t total, double frac)
{
    int64_t pm = (int64_t)llround(frac * 1000);
    return total > 0 && inside * 1000 >= pm * total;
}

/* Per lesion: its pixel count and bounding box [x0, x1) x [y0, y1). */
typedef struct lesion_extent {
    int64_t total;
    int x0, y0, x1, y1;
} lesion_extent;

static void lesion_extents(const ndx_lesion_mask *les, int n, int w, int h, lesion_extent *e)
{
    for (int i = 0; i < n; i++) {
        lesion_extent x = {0, w, h, 0, 0};
        const uint8_t *m = les[i].mask;
        for (int yy = 0; yy < h; yy++)
            for (int xx = 0; xx < w; xx++)
                if (m[(size_t)yy * w + xx]) {
                    x.total++;
                    if (xx < x.x0) x.x0 = xx;
                    if (xx >= x.x1) x.x1 = xx + 1;
                    if (yy < x.y0) x.y0 = yy;
                    if (yy >= x.y1) x.y1 = yy + 1;
                }
        e[i] = x;
    }
}

static int label_box(const ndx_lesion_mask *les, const lesion_extent *e, int n, int w, int h,
                     int x, int y, int bw, int bh, double label_frac,
                     float overlap[NDX_LESION_KINDS][2])
{
    int x0 = x < 0 ? 0 : x, y0 = y < 0 ? 0 : y;
    int x1 = x + bw > w ? w : x + bw, y1 = y + bh > h ? h : y + bh;
    int64_t area = (int64_t)bw * bh;
    int64_t cover[NDX_LESION_KINDS][2] = {{0}}, malignant_cover = 0;
    int label = 0;
    for (int i = 0; i < n; i++) {
        if (!les[i].malignant || e[i].total == 0) continue;
        int64_t in = 0;
        int ya = y0 > e[i].y0 ? y0 : e[i].y0, yb = y1 < e[i].y1 ? y1 : e[i].y1;
        int xa = x0 > e[i].x0 ? x0 : e[i].x0, xb = x1 < e[i].x1 ? x1 : e[i].x1;
        for (int yy = ya; yy < yb; yy++)
            for (int xx = xa; xx < xb; xx++) in += les[i].mask[(size_t)yy * w + xx] != 0;
        if (at_least(in, e[i].total, label_frac)) label = 1;
    }
    int active[64], na = 0;
    for (int i = 0; i < n && na < 64; i++)
        if (e[i].total && e[i].x0 < x1 && e[i].x1 > x0 && e[i].y0 < y1 && e[i].y1 > y0 &&
            les[i].kind >= 0 && les[i].kind < NDX_LESION_KINDS)
            active[na++] = i;
    if (na)
        for (int yy = y0; yy < y1; yy++)
            for (int xx = x0; xx < x1; xx++) {
                size_t o = (size_t)yy * w + xx;
                unsigned seen = 0, mal = 0;
                for (int a = 0; a < na; a++) {
                    int i = active[a];
                    if (!les[i].mask[o]) continue;
                    seen |= 1u << (2 * les[i].kind + (les[i].malignant ? 1 : 0));
                    if (les[i].malignant) mal = 1;
                }
                if (!seen) continue;
                for (int k = 0; k < 2 * NDX_LESION_KINDS; k++)
                    if (seen & (1u << k)) cover[k / 2][k % 2]++;
                malignant_cover += mal;
            }
    if (at_least(malignant_cover, area, label_frac)) label = 1;
    if (overlap)
        for (int k = 0; k < NDX_LESION_KINDS; k++)
            for (int m = 0; m < 2; m++) overlap[k][m] = area > 0 ? (float)((double)cover[k][m] / area) : 0;
    return label;
}

int ndx_patch_label_box(const ndx_lesion_mask *les, int n, int w, int h, int x, int y, int bw,
                        int bh, double label_frac, float overlap[NDX_LESION_KINDS][2])
{
    lesion_extent e[64];
    if (n > 64) n = 64;
    lesion_extents(les, n, w, h, e);
    return label_box(les, e, n, w, h, x, y, bw, bh, label_frac, overlap);
}

void ndx_patch_defaults(ndx_patch_opts *o)
{
    memset(o, 0, sizeof *o);
    o->window = 0.25;
    o->stride = 0.5;
    o->min_tissue = 0.5;
    o->label_frac = 0.3;
}

static const char *const overlap_cols[2 * NDX_LESION_KINDS] = {
    "mass_benign", "mass_malignant", "calcification_benign", "calcification_malignant",
    "vessel_benign", "vessel_malignant", "distortion_benign", "distortion_malignant"};
#define PATCH_COLS (11 + 2 * NDX_LESION_KINDS)
static const char *const patch_cols[11] = {"patch_id", "patient_id", "image_path", "x", "y", "w",
                                           "h", "label", "split", "tissue", "image_size"};

/* Loads a lesion mask at the image's size (nearest-neighbour resampling
 * when it differs); *resampled set when it did. */
static ndx_status load_mask(const char *path, int w, int h, uint8_t *out, int *resampled)
{
    ndx_image m;
    ndx_status st = ndx_image_read(path, 0, &m, NULL);
    if (st != NDX_OK) return st;
    *resampled = m.w != w || m.h != h;
    int thr = m.maxval / 2;
    for (int y = 0; y < h; y++) {
        int sy = (int)(((int64_t)y * m.h) / h);
        for (int x = 0; x < w; x++) {
            int sx = (int)(((int64_t)x * m.w) / w);
            out[(size_t)y * w + x] = m.px[(size_t)sy * m.w + sx] > thr;
        }
    }
    ndx_image_free(&m);
    return NDX_OK;
}

/* Groups manifest rows by image_path (rows of one image are adjacent in
 * what synth and import-cbis write; others are grouped by a sort). */
static int cmp_rows(const void *a, const void *b)
{
    const ndx_manifest_row *x = a, *y = b;
    int c = strcmp(x->image_path, y->image_path);
    return c ? c : x->abnormality_id - y->abnormality_id;
}

static ndx_status index_images(ndx_patch_index *ix)
{
    ndx_manifest *m = &ix->manifest;
    qsort(m->rows, m->n, sizeof *m->rows, cmp_rows);
    size_t cap = 16;
    ix->images = malloc(sizeof *ix->images * cap);
    if (!ix->images) return ndx__fail(NDX_ERR_NOMEM, "patches: out of memory");
    ix->nimages = 0;
    for (size_t i = 0; i < m->n;) {
        size_t j = i + 1;
        while (j < m->n && !strcmp(m->rows[j].image_path, m->rows[i].image_path)) j++;
        if (ix->nimages == cap) {
            cap *= 2;
            ndx_patch_image *p = realloc(ix->images, sizeof *p * cap);
            if (!p) return ndx__fail(NDX_ERR_NOMEM, "patches: out of memory");
            ix->images = p;
        }
        ndx_patch_image *im = &ix->images[ix->nimages++];
        memset(im, 0, sizeof *im);
        snprintf(im->path, sizeof im->path, "%s", m->rows[i].image_path);
        snprintf(im->patient_id, sizeof im->patient_id, "%s", m->rows[i].patient_id);
        im->first_row = i;
        im->nrows = j - i;
        i = j;
    }
    return NDX_OK;
}

void ndx_patches_free(ndx_patch_index *ix)
{
    free(ix->dir);
    ndx_manifest_free(&ix->manifest);
    free(ix->images);
    free(ix->patches);
    memset(ix, 0, sizeof *ix);
}

int ndx_patch_class(const ndx_patch *p, int classes)
{
    if (classes == 2) return p->label != 0;
    if (classes != 3) return -1;
    if (p->label) return 2;
    for (int k = 0; k < NDX_LESION_KINDS; k++)
        if (p->overlap[k][0] > 0) return 1;
    return 0;
}

int ndx_cancer_class(int classes) { return classes == 2 ? 1 : classes == 3 ? 2 : -1; }

static ndx_status push_patch(ndx_patch_index *ix, size_t *cap, const ndx_patch *p)
{
    if (ix->n == *cap) {
        size_t c = *cap ? *cap * 2 : 256;
        ndx_patch *np = realloc(ix->patches, sizeof *np * c);
        if (!np) return ndx__fail(NDX_ERR_NOMEM, "patches: out of memory for %zu patches", c);
        ix->patches = np;
        *cap = c;
    }
    ix->patches[ix->n++] = *p;
    return NDX_OK;
}

/* patches.csv of index ctx into f. */
static ndx_status put_patches(FILE *f, void *ctx)
{
    const ndx_patch_index *ix = ctx;
    for (int i = 0; i < 11; i++) fprintf(f, "%s,", patch_cols[i]);
    for (int i = 0; i < 2 * NDX_LESION_KINDS; i++)
        fprintf(f, "%s%s", overlap_cols[i], i + 1 < 2 * NDX_LESION_KINDS ? "," : "\n");
    for (size_t i = 0; i < ix->n; i++) {
        const ndx_patch *p = &ix->patches[i];
        const ndx_patch_image *im = &ix->images[p->image];
        fprintf(f, "%zu,", i);
        ndx__csv_put(f, im->patient_id);
        fputc(',', f);
        ndx__csv_put(f, im->path);
        fprintf(f, ",%d,%d,%d,%d,%d,%s,%.4f,%dx%d", p->x, p->y, p->w, p->h, p->label,
                ndx_split_name(p->split), p->tissue, im->width, im->height);
        for (int k = 0; k < 2 * NDX_LESION_KINDS; k++) fprintf(f, ",%.4f", p->overlap[k / 2][k % 2]);
        fputc('\n', f);
    }
    return NDX_OK;   /* write errors: caught by ndx__out_commit */
}

static ndx_status write_patches(const char *path, const ndx_patch_index *ix)
{
    return ndx__write_file(path, put_patches, (void *)ix);
}

/* The sliding window over image ii (img): every window with more than
 * o->min_tissue of its pixels above thr (breast) becomes a patch of the
 * image's split, labelled from the lesions les (nl, extents ext). */
static ndx_status slide(ndx_patch_index *ix, size_t ii, const ndx_image *img, int thr,
                        int split, const ndx_lesion_mask *les, const lesion_extent *ext, int nl,
                        const ndx_patch_opts *o, size_t *cap, ndx_patch_stats *S)
{
    const int w = img->w, h = img->h;
    const double mm = ix->manifest.rows[ix->images[ii].first_row].pixel_spacing_mm;
    int side = o->window_mm > 0 && mm > 0 ? (int)lround(o->window_mm / mm)
                                          : (int)lround(o->window * (w < h ? w : h));
    if (side < 1) side = 1;
    int step = (int)lround(o->stride * side);
    if (step < 1) step = 1;
    ndx_status st = NDX_OK;
    for (int y = 0; y + side <= h && st == NDX_OK; y += step)
        for (int x = 0; x + side <= w && st == NDX_OK; x += step) {
            long breast = 0;
            for (int yy = y; yy < y + side; yy++) {
                const uint16_t *row = img->px + (size_t)yy * w + x;
                for (int xx = 0; xx < side; xx++) breast += row[xx] > thr;
            }
            double tissue = (double)breast / ((double)side * side);
            if (tissue < o->min_tissue) {
                S->dropped++;
                continue;
            }
            ndx_patch p;
            memset(&p, 0, sizeof p);
            p.image = (int)ii, p.x = x, p.y = y, p.w = side, p.h = side;
            p.split = split;
            p.tissue = (float)tissue;
            p.label = label_box(les, ext, nl, w, h, x, y, side, side, o->label_frac, p.overlap);
            st = push_patch(ix, cap, &p);
            if (st == NDX_OK) {
                S->patches++;
                S->positive += p.label;
                S->split_patches[split]++;
                S->split_positive[split] += p.label;
            }
        }
    return st;
}

ndx_status ndx_breast_threshold(const uint16_t *px, size_t n, int maxval, int *out)
{
    if (maxval < 1 || maxval > 65535) maxval = 65535;
    double *hist = calloc((size_t)maxval + 1, sizeof *hist);
    if (!hist) return ndx__fail(NDX_ERR_NOMEM, "breast threshold: out of memory for a histogram");
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        int v = px[i] > maxval ? maxval : px[i];
        hist[v]++;
        sum += v;
    }
    /* Otsu: the t maximising w0 w1 (m0 - m1)^2 for {<= t} vs {> t} */
    double w0 = 0, s0 = 0, best = -1;
    int thr = 0;
    for (int t = 0; t < maxval; t++) {
        w0 += hist[t], s0 += (double)t * hist[t];
        double w1 = (double)n - w0;
        if (w0 == 0 || w1 == 0) continue;
        double d = s0 / w0 - (sum - s0) / w1, b = w0 * w1 * d * d;
        if (b > best) best = b, thr = t;
    }
    /* Otsu cuts into the faint band inside the skin (the breast's spread is
     * the larger): within its lower class, the triangle rule puts the cut
     * at the foot of the background's peak, the bin farthest below the
     * line from the peak to Otsu's threshold */
    int peak = 0;
    for (int t = 1; t <= thr; t++)
        if (hist[t] > hist[peak]) peak = t;
    int cut = thr;
    double far = 0;
    for (int t = peak + 1; t < thr; t++) {
        double line = hist[peak] + (hist[thr] - hist[peak]) * (double)(t - peak) / (thr - peak);
        if (line - hist[t] > far) far = line - hist[t], cut = t;
    }
    free(hist);
    *out = cut;
    return NDX_OK;
}

/* Breast = above the image's own threshold (12-bit data in a 16-bit PNG
 * is then not all background); its fraction of the image summed into S
 * (the mean once all images are in) and its smallest kept there; *thr:
 * the threshold. */
static ndx_status breast_fraction(const ndx_image *img, ndx_patch_stats *S, int *thr)
{
    size_t npx = (size_t)img->w * img->h, above = 0;
    ndx_status st = ndx_breast_threshold(img->px, npx, img->maxval, thr);
    for (size_t k = 0; st == NDX_OK && k < npx; k++) above += img->px[k] > *thr;
    double frac = npx ? (double)above / (double)npx : 0;
    S->breast_frac_mean += frac;
    if (S->images == 0 || frac < S->breast_frac_min) S->breast_frac_min = frac;
    return st;
}

static int cmp_pid(const void *a, const void *b)
{
    const ndx_patch_image *const *x = a, *const *y = b;
    return strcmp((*x)->patient_id, (*y)->patient_id);
}

/* The split of every image (img_split[i]) from its patient's, the patients
 * per split counted in S. */
static ndx_status assign_splits(const ndx_patch_index *ix, const ndx_patch_opts *o, int *img_split,
                                ndx_patch_stats *S)
{
    size_t n = ix->nimages, np = 0;
    const ndx_patch_image **by = malloc((n ? n : 1) * sizeof *by);
    const char **ids = malloc((n ? n : 1) * sizeof *ids);
    int *mal = calloc(n ? n : 1, sizeof *mal), *sp = malloc((n ? n : 1) * sizeof *sp);
    ndx_status st = by && ids && mal && sp ? NDX_OK
                                          : ndx__fail(NDX_ERR_NOMEM, "patches: out of memory");
    if (st == NDX_OK) {
        for (size_t i = 0; i < n; i++) by[i] = &ix->images[i];
        qsort(by, n, sizeof *by, cmp_pid);
        for (size_t i = 0; i < n; i++) {
            if (i == 0 || strcmp(by[i]->patient_id, by[i - 1]->patient_id)) ids[np++] = by[i]->patient_id;
            for (size_t r = 0; r < by[i]->nrows; r++) {
                const ndx_manifest_row *row = &ix->manifest.rows[by[i]->first_row + r];
                if (ndx_lesion_kind(row) >= 0 && !strcmp(row->pathology, "MALIGNANT")) mal[np - 1] = 1;
            }
        }
        st = ndx_split_assign(ids, mal, np, o->split_seed, o->stratify, sp);
    }
    if (st == NDX_OK) {
        for (size_t i = 0, p = 0; i < n; i++) {
            if (i && strcmp(by[i]->patient_id, by[i - 1]->patient_id)) p++;
            img_split[by[i] - ix->images] = sp[p];
        }
        for (size_t p = 0; p < np; p++) {
            S->split_patients[sp[p]]++;
            S->split_malignant_patients[sp[p]] += mal[p];
        }
    }
    free(by), free(ids), free(mal), free(sp);
    return st;
}

/* ix->dir, dir/manifest.csv and the index of its images; ix emptied on
 * failure. */
static ndx_status open_index(ndx_patch_index *ix, const char *dir)
{
    memset(ix, 0, sizeof *ix);
    char *man = ndx__join(dir, "manifest.csv");
    ix->dir = ndx__strf("%s", dir);
    ndx_status st = !man || !ix->dir ? NDX_ERR_NOMEM : ndx_manifest_read(man, &ix->manifest);
    if (!st) st = index_images(ix);
    free(man);
    if (st) ndx_patches_free(ix);
    return st;
}

ndx_status ndx_patches_build(const char *dir, const ndx_patch_opts *o, ndx_patch_stats *stats)
{
    if (!(o->window > 0 && o->window <= 1) || !(o->stride > 0 && o->stride <= 1) ||
        !(o->min_tissue >= 0 && o->min_tissue <= 1) || !(o->label_frac > 0 && o->label_frac <= 1))
        return ndx__fail(NDX_ERR_INVALID,
                         "patches: window (0,1], stride (0,1], min_tissue [0,1], label_frac (0,1] "
                         "expected, got %g %g %g %g", o->window, o->stride, o->min_tissue, o->label_frac);
    ndx_patch_index ix;
    ndx_status st = open_index(&ix, dir);
    if (st != NDX_OK) return st;
    for (size_t i = 0; i < ix.nimages && o->window_mm > 0 && st == NDX_OK; i++)
        if (!(ix.manifest.rows[ix.images[i].first_row].pixel_spacing_mm > 0))
            st = ndx__fail(NDX_ERR_INVALID, "%s/manifest.csv: image %s has no pixel_spacing_mm "
                           "(0 or empty: unknown), so a window in mm (%g) cannot be laid on it; "
                           "give the window as a fraction (--window), or import the data from "
                           "DICOM files that carry (0028,0030) PixelSpacing", dir, ix.images[i].path,
                           o->window_mm);
    if (st != NDX_OK) {
        ndx_patches_free(&ix);
        return st;
    }
    ndx_ioplan *plan = NULL;   /* the manifest, images, masks; patches.csv locked */
    char *path = ndx__join(dir, "patches.csv");
    if (!path) st = NDX_ERR_NOMEM;
    if (st || (st = ndx_ioplan_new("patches", &plan)) ||
        (st = ndx_ioplan_patches(plan, &ix)) ||
        (st = ndx_ioplan_output(plan, "patches.csv", path, NDX_OUT_FILE)) ||
        (st = ndx_ioplan_begin(plan))) {
        free(path);
        ndx_ioplan_free(plan);
        ndx_patches_free(&ix);
        return st;
    }
    free(path);
    ndx_patch_stats S;
    memset(&S, 0, sizeof S);
    int *img_split = malloc((ix.nimages ? ix.nimages : 1) * sizeof *img_split);
    st = img_split ? assign_splits(&ix, o, img_split, &S)
                   : ndx__fail(NDX_ERR_NOMEM, "patches: out of memory");
    size_t cap = 0;
    uint8_t *masks = NULL;
    size_t mask_cap = 0;
    ndx_lesion_mask les[64];
    lesion_extent ext[64];
    for (size_t ii = 0; ii < ix.nimages && st == NDX_OK; ii++) {
        ndx_patch_image *im = &ix.images[ii];
        ndx_image img = {0};
        char *path = ndx__join(dir, im->path);
        st = path ? ndx_image_read(path, 0, &img, NULL) : NDX_ERR_NOMEM;
        free(path);
        if (st != NDX_OK) break;
        int w = img.w, h = img.h;
        im->width = w, im->height = h;
        size_t npx = (size_t)w * h;
        int nl = 0;
        for (size_t r = 0; r < im->nrows; r++)
            if (ndx_lesion_kind(&ix.manifest.rows[im->first_row + r]) >= 0) nl++;
        if (nl > 64) {
            ndx_image_free(&img);
            st = ndx__fail(NDX_ERR_FORMAT, "%s: %d lesions in one image (at most 64)", im->path, nl);
            break;
        }
        if ((size_t)nl * npx > mask_cap) {
            free(masks);
            mask_cap = (size_t)nl * npx;
            masks = malloc(mask_cap);
            if (!masks) {
                ndx_image_free(&img);
                st = ndx__fail(NDX_ERR_NOMEM, "patches: out of memory for %d masks", nl);
                break;
            }
        }
        nl = 0;
        for (size_t r = 0; r < im->nrows && st == NDX_OK; r++) {
            const ndx_manifest_row *row = &ix.manifest.rows[im->first_row + r];
            int kind = ndx_lesion_kind(row);
            if (kind < 0) continue;
            char *mpath = ndx__join(dir, row->mask_path);
            int resampled = 0;
            st = mpath ? load_mask(mpath, w, h, masks + (size_t)nl * npx, &resampled)
                       : NDX_ERR_NOMEM;
            free(mpath);
            S.resampled_masks += resampled;
            les[nl].mask = masks + (size_t)nl * npx;
            les[nl].kind = kind;
            les[nl].malignant = !strcmp(row->pathology, "MALIGNANT");
            nl++;
        }
        if (st != NDX_OK) {
            ndx_image_free(&img);
            break;
        }
        lesion_extents(les, nl, w, h, ext);
        int thr;
        if ((st = breast_fraction(&img, &S, &thr)) != NDX_OK) {
            ndx_image_free(&img);
            break;
        }
        st = slide(&ix, ii, &img, thr, img_split[ii], les, ext, nl, o, &cap, &S);
        ndx_image_free(&img);
        S.images++;
        if (o->progress) o->progress(o->progress_ctx, (long)ii + 1, (long)ix.nimages);
    }
    free(masks);
    free(img_split);
    if (S.images) S.breast_frac_mean /= (double)S.images;
    if (st == NDX_OK) {
        char *out = ndx__join(dir, "patches.csv");
        st = out ? write_patches(out, &ix) : NDX_ERR_NOMEM;
        free(out);
    }
    ndx_patches_free(&ix);
    ndx_ioplan_free(plan);
    if (st == NDX_OK && stats) *stats = S;
    return st;
}

ndx_status ndx_patches_read(const char *dir, ndx_patch_index *ix)
{
    ndx_status st = open_index(ix, dir);
    if (st != NDX_OK) return st;
    char *path = ndx__join(dir, "patches.csv");
    ndx_csv *c;
    if (!path || (st = ndx_hash_file(path, 0, &ix->digest)) != NDX_OK ||
        (st = ndx_csv_open(path, &c)) != NDX_OK) {
        free(path);
        ndx_patches_free(ix);
        return path ? st : NDX_ERR_NOMEM;
    }
    int got = ndx_csv_next(c);
    if (got <= 0 || ndx_csv_nfields(c) != PATCH_COLS || strcmp(ndx_csv_field(c, 0), "patch_id")) {
        st = got < 0 ? (ndx_status)got
                     : ndx__fail(NDX_ERR_FORMAT, "%s:1: header is not that of patches.csv (%d columns)",
                                 path, got > 0 ? ndx_csv_nfields(c) : 0);
    }
    size_t cap = 0;
    while (st == NDX_OK && (got = ndx_csv_next(c)) > 0) {
        long line = ndx_csv_line(c);
        if (ndx_csv_nfields(c) == 1 && !ndx_csv_field(c, 0)[0]) continue;
        if (ndx_csv_nfields(c) != PATCH_COLS) {
            st = ndx__fail(NDX_ERR_FORMAT, "%s:%ld: %d columns, expected %d", path, line,
                           ndx_csv_nfields(c), PATCH_COLS);
            break;
        }
        ndx_patch p;
        memset(&p, 0, sizeof p);
        const char *img = ndx_csv_field(c, 2);
        /* binary search over images sorted by path */
        size_t lo = 0, hi = ix->nimages;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            int cmp = strcmp(ix->images[mid].path, img);
            if (cmp < 0) lo = mid + 1;
            else hi = mid;
        }
        if (lo == ix->nimages || strcmp(ix->images[lo].path, img)) {
            st = ndx__fail(NDX_ERR_FORMAT, "%s:%ld: column 3 (image_path): '%s' is not in the manifest",
                           path, line, img);
            break;
        }
        p.image = (int)lo;
        int iw = 0, ih = 0;
        struct { int *dst; long lo, hi; } nums[] = {
            {&p.x, 0, INT_MAX}, {&p.y, 0, INT_MAX}, {&p.w, 1, INT_MAX}, {&p.h, 1, INT_MAX},
            {&p.label, 0, 1}};
        for (int k = 0; k < 5 && st == NDX_OK; k++)
            if (ndx__parse_int(ndx_csv_field(c, 3 + k), nums[k].lo, nums[k].hi, nums[k].dst))
                st = ndx__fail(NDX_ERR_FORMAT, "%s:%ld: column %d (%s): '%s' is not an integer in "
                               "%ld..%ld", path, line, 4 + k, patch_cols[3 + k],
                               ndx_csv_field(c, 3 + k), nums[k].lo, nums[k].hi);
        if (st != NDX_OK) break;
        const char *sp = ndx_csv_field(c, 8), *ts = ndx_csv_field(c, 9), *sz = ndx_csv_field(c, 10);
        p.split = !strcmp(sp, "train") ? NDX_SPLIT_TRAIN : !strcmp(sp, "val") ? NDX_SPLIT_VAL
                  : !strcmp(sp, "test") ? NDX_SPLIT_TEST : -1;
        if (p.split < 0) {
            st = ndx__fail(NDX_ERR_FORMAT, "%s:%ld: column 9 (split): '%s' is not train, val or "
                           "test", path, line, sp);
            break;
        }
        char *end;
        errno = 0;
        p.tissue = strtof(ts, &end);
        if (errno || end == ts || *end || !(p.tissue >= 0 && p.tissue <= 1)) {
            st = ndx__fail(NDX_ERR_FORMAT, "%s:%ld: column 10 (tissue): '%s' is not a fraction "
                           "in 0..1", path, line, ts);
            break;
        }
        char wbuf[32], *xs;
        int bad_size = snprintf(wbuf, sizeof wbuf, "%s", sz) >= (int)sizeof wbuf ||
                       !(xs = strchr(wbuf, 'x'));
        if (!bad_size) *xs = 0;
        if (bad_size || ndx__parse_int(wbuf, 1, INT_MAX, &iw) || ndx__parse_int(xs + 1, 1, INT_MAX, &ih)) {
            st = ndx__fail(NDX_ERR_FORMAT, "%s:%ld: column 11 (image_size): '%s' is not WxH with "
                           "W and H in 1..%d", path, line, sz, INT_MAX);
            break;
        }
        /* compared without adding: x + w could overflow an int */
        if (p.w > iw - p.x || p.h > ih - p.y) {
            st = ndx__fail(NDX_ERR_FORMAT, "%s:%ld: box (%d,%d,%d,%d) lies outside the %dx%d image",
                           path, line, p.x, p.y, p.w, p.h, iw, ih);
            break;
        }
        /* one size per image: the index keeps one, every box must lie in it */
        if (ix->images[lo].width && (ix->images[lo].width != iw || ix->images[lo].height != ih)) {
            st = ndx__fail(NDX_ERR_FORMAT, "%s:%ld: column 11 (image_size): %dx%d, but an earlier "
                           "row gives %s as %dx%d", path, line, iw, ih, img,
                           ix->images[lo].width, ix->images[lo].height);
            break;
        }
        ix->images[lo].width = iw, ix->images[lo].height = ih;
        for (int k = 0; k < 2 * NDX_LESION_KINDS && st == NDX_OK; k++) {
            float v = 0;
            char tail;
            if (sscanf(ndx_csv_field(c, 11 + k), "%f%c", &v, &tail) != 1 || !(v >= 0 && v <= 1))
                st = ndx__fail(NDX_ERR_FORMAT, "%s:%ld: column %d (%s): not a fraction", path, line,
                               12 + k, overlap_cols[k]);
            p.overlap[k / 2][k % 2] = v;
        }
        if (st == NDX_OK) st = push_patch(ix, &cap, &p);
    }
    if (st == NDX_OK && got < 0) st = (ndx_status)got;
    ndx_csv_close(c);
    free(path);
    if (st != NDX_OK) ndx_patches_free(ix);
    return st;
}

/* Phantom mammograms (DOMAIN.md, "Phantom recipe").
 *
 * Per patient: a density grade and 0-4 findings; per image (LEFT/RIGHT x
 * CC/MLO, W x H = 100 x 160 mm at pixel_um): the breast as a perturbed half
 * super-ellipse on the chest wall (x = 0; RIGHT images are mirrored), the
 * intensity falling over a 15 mm band inside the edge, a 0.75 mm skin line,
 * in MLO a pectoral wedge with a convex front edge; parenchyma from Gaussian
 * noise filtered by |f|^(-beta/2) (beta ~ 3) on a 320 um grid stretched
 * toward the nipple, thresholded to the grade's dense fraction inside a
 * glandular envelope; lesions added from their own layers, each with its
 * own mask; a light blur and quantum noise.  Intensities are in [0, 1] of a
 * 16-bit PNG, background 0.
 *
 * Plan (sequential, from the seed) -> render (OpenMP over images, each
 * image from its own RNG stream) -> manifest (sequential): the output does
 * not depend on the thread count. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/core.h"
#include "data.h"
#include "../io/io.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

/* ---- the plan ------------------------------------------------------------ */
enum { MASS_ROUND, MASS_OVAL, MASS_MICROLOB, MASS_INDISTINCT, MASS_IRREGULAR,
       MASS_SPICULATED, DISTORTION, CALC_PUNCTATE, CALC_PLEOMORPHIC, CALC_FINE_LINEAR,
       CALC_COARSE, VESSEL, NSUBTYPES };

static const struct subtype {
    int kind;
    double weight, p_malignant;
    const char *shape, *margins, *calc_type, *distribution;
} subtypes[NSUBTYPES] = {
    [MASS_ROUND] = {NDX_LESION_MASS, 0.06, 0.10, "ROUND", "CIRCUMSCRIBED", "", ""},
    [MASS_OVAL] = {NDX_LESION_MASS, 0.08, 0.10, "OVAL", "CIRCUMSCRIBED", "", ""},
    [MASS_MICROLOB] = {NDX_LESION_MASS, 0.06, 0.45, "LOBULATED", "MICROLOBULATED", "", ""},
    [MASS_INDISTINCT] = {NDX_LESION_MASS, 0.07, 0.45, "OVAL", "ILL_DEFINED", "", ""},
    [MASS_IRREGULAR] = {NDX_LESION_MASS, 0.07, 0.75, "IRREGULAR", "ILL_DEFINED", "", ""},
    [MASS_SPICULATED] = {NDX_LESION_MASS, 0.08, 0.90, "IRREGULAR", "SPICULATED", "", ""},
    [DISTORTION] = {NDX_LESION_DISTORTION, 0.13, 0.60, "ARCHITECTURAL_DISTORTION", "SPICULATED", "", ""},
    [CALC_PUNCTATE] = {NDX_LESION_CALC, 0.09, 0.15, "", "", "PUNCTATE", "CLUSTERED"},
    [CALC_PLEOMORPHIC] = {NDX_LESION_CALC, 0.09, 0.70, "", "", "PLEOMORPHIC", "CLUSTERED"},
    [CALC_FINE_LINEAR] = {NDX_LESION_CALC, 0.08, 0.85, "", "", "FINE_LINEAR_BRANCHING", "LINEAR"},
    [CALC_COARSE] = {NDX_LESION_CALC, 0.07, 0.03, "", "", "COARSE", "REGIONAL"},
    [VESSEL] = {NDX_LESION_VESSEL, 0.12, 0.0, "", "", "VASCULAR", "LINEAR"},
};

typedef struct lesion_plan {
    int subtype, side;         /* side 0 LEFT, 1 RIGHT */
    int malignant, pathology;  /* pathology 0 MALIGNANT, 1 BENIGN, 2 BENIGN_WITHOUT_CALLBACK */
    int assessment, subtlety;
    double u, v;               /* position: depth fraction, vertical fraction */
    double size_mm, contrast, blur_mm, visibility;
    uint64_t seed;             /* shape: the same in both views */
} lesion_plan;

typedef struct patient_plan {
    int grade;                 /* 0..3 = a..d */
    double dense_frac;
    int nlesions;
    lesion_plan les[4];
    uint64_t seed;
    double a_mm, b_mm, n_exp;  /* breast depth, half height, super-ellipse exponent */
} patient_plan;

static const char *const side_name[2] = {"LEFT", "RIGHT"};
static const char *const view_name[2] = {"CC", "MLO"};
static const char *const path_name[3] = {"MALIGNANT", "BENIGN", "BENIGN_WITHOUT_CALLBACK"};

static double urange(ndx_rng *r, double lo, double hi) { return lo + (hi - lo) * ndx_rng_uniform(r); }

static void plan_patient(patient_plan *p, uint64_t seed, int index, double normal_frac)
{
    ndx_rng r;
    ndx_rng_seed(&r, ndx_hash64(&index, sizeof index, seed ^ 0x5eed5eedull));
    memset(p, 0, sizeof *p);
    static const double grade_cdf[4] = {0.10, 0.50, 0.90, 1.0};
    static const double dense_lo[4] = {0.05, 0.27, 0.52, 0.77}, dense_hi[4] = {0.20, 0.45, 0.70, 0.90};
    double g = ndx_rng_uniform(&r);
    while (p->grade < 3 && g >= grade_cdf[p->grade]) p->grade++;
    p->dense_frac = urange(&r, dense_lo[p->grade], dense_hi[p->grade]);
    p->seed = ndx_rng_u64(&r);
    p->a_mm = urange(&r, 60, 85);
    p->b_mm = urange(&r, 55, 70);
    p->n_exp = urange(&r, 2.0, 2.6);
    if (ndx_rng_uniform(&r) < normal_frac) return;
    double k = ndx_rng_uniform(&r);
    p->nlesions = k < 0.35 ? 1 : k < 0.7 ? 2 : k < 0.9 ? 3 : 4;
    double wsum = 0;
    for (int s = 0; s < NSUBTYPES; s++) wsum += subtypes[s].weight;
    for (int i = 0; i < p->nlesions; i++) {
        lesion_plan *l = &p->les[i];
        double w = ndx_rng_uniform(&r) * wsum;
        l->subtype = 0;
        while (l->subtype < NSUBTYPES - 1 && w >= subtypes[l->subtype].weight)
            w -= subtypes[l->subtype++].weight;
        l->side = (int)ndx_rng_below(&r, 2);
        l->malignant = ndx_rng_uniform(&r) < subtypes[l->subtype].p_malignant;
        l->pathology = l->malignant ? 0 : ndx_rng_uniform(&r) < 0.3 ? 2 : 1;
        if (l->subtype == VESSEL) l->pathology = ndx_rng_uniform(&r) < 0.8 ? 2 : 1;
        l->assessment = l->malignant ? (ndx_rng_uniform(&r) < 0.55 ? 4 : 5)
                        : l->pathology == 2 ? 2 + (int)ndx_rng_below(&r, 2)
                                            : 2 + (int)ndx_rng_below(&r, 3);
        l->u = urange(&r, 0.25, 0.70);
        l->v = urange(&r, -0.55, 0.55);
        int kind = subtypes[l->subtype].kind;
        l->size_mm = kind == NDX_LESION_MASS ? urange(&r, 8, 30)
                     : kind == NDX_LESION_DISTORTION ? urange(&r, 15, 35)
                     : kind == NDX_LESION_CALC ? urange(&r, 5, 10)
                                               : urange(&r, 25, 55);
        l->contrast = kind == NDX_LESION_CALC ? urange(&r, 0.18, 0.32)
                      : kind == NDX_LESION_VESSEL ? urange(&r, 0.12, 0.22)
                      : kind == NDX_LESION_DISTORTION ? urange(&r, 0.05, 0.09)
                                                      : urange(&r, 0.09, 0.16);
        /* edge blur: ill-defined margins 1-2 mm; thin distortion lines */
        l->blur_mm = l->subtype == MASS_INDISTINCT || l->subtype == MASS_IRREGULAR ? urange(&r, 1.0, 2.0)
                     : kind == NDX_LESION_DISTORTION ? 0.5 : 0.15;
        l->visibility = ndx__visibility(l->contrast, l->blur_mm, l->size_mm, p->dense_frac);
        if (l->visibility < NDX__VIS_FLOOR) {
            l->contrast *= NDX__VIS_FLOOR / l->visibility;
            l->visibility = NDX__VIS_FLOOR;
        }
        l->subtlety = ndx__subtlety(l->visibility);
        l->seed = ndx_rng_u64(&r);
    }
}

/* ---- one image ------------------------------------------------------------ */
typedef struct canvas {
    int w, h;
    double pxmm;               /* pixels per mm */
    float *img;                /* h x w */
    float *xe, *slope;         /* per row: breast edge x, 1/sqrt(1+xe'^2) */
    float *xp;                 /* per row: pectoral front edge x (0 in CC) */
    double a, b, cy;           /* breast depth, half height, centre row (px) */
    float dense;               /* the fibroglandular tissue's level */
} canvas;

typedef ndx__layer layer;

static int layer_init(layer *L, const canvas *c, double cx, double cy, double rad)
{
    int x0 = (int)floor(cx - rad), y0 = (int)floor(cy - rad);
    int x1 = (int)ceil(cx + rad), y1 = (int)ceil(cy + rad);
    if (x0 < 0) x0 = 0;
    if (y0 < 0) y0 = 0;
    if (x1 > c->w) x1 = c->w;
    if (y1 > c->h) y1 = c->h;
    L->x0 = x0, L->y0 = y0, L->w = x1 > x0 ? x1 - x0 : 1, L->h = y1 > y0 ? y1 - y0 : 1;
    L->val = calloc((size_t)L->w * L->h, sizeof *L->val);
    L->mask = calloc((size_t)L->w * L->h, 1);
    return L->val && L->mask ? 0 : -1;
}

static void layer_free(layer *L)
{
    free(L->val);
    free(L->mask);
}

static double edge_x(const canvas *c, double y)
{
    int j = (int)y;
    if (j < 0) j = 0;
    if (j >= c->h) j = c->h - 1;
    return c->xe[j];
}

/* Lesion centre in this view from its (u, v), kept inside the breast and in
 * front of the pectoral muscle. */
static void place(const canvas *c, const lesion_plan *l, int view, double margin, double *px,
                  double *py)
{
    double v = view ? l->v * 0.85 + 0.08 : l->v;
    double y = c->cy + v * c->b;
    if (y < margin + 2) y = margin + 2;
    if (y > c->h - margin - 2) y = c->h - margin - 2;
    double xe = edge_x(c, y);
    double x = l->u * c->a;
    int yi = y < 0 ? 0 : y >= c->h ? c->h - 1 : (int)y;
    double lo = c->xp[yi] + margin + 2, hi = xe - margin - 0.1 * c->a;
    if (x > hi) x = hi;
    if (x < lo) x = lo;
    if (x > xe - 2) x = xe * 0.5;
    *px = x;
    *py = y;
}

static void render_mass(layer *L, const canvas *c, const lesion_plan *l, ndx_rng *r, double cx,
                        double cy)
{
    double R0 = 0.5 * l->size_mm * c->pxmm;
    int st = l->subtype;
    double harm_a[8] = {0}, harm_p[8] = {0};
    int harm_k[8] = {0}, nh = 0;
    double ax = 1, ay = 1, rot = urange(r, 0, M_PI);
    if (st == MASS_OVAL || st == MASS_INDISTINCT) ax = urange(r, 1.2, 1.6), ay = 1 / sqrt(ax);
    if (st == MASS_MICROLOB)
        for (; nh < 4; nh++) harm_k[nh] = 8 + (int)ndx_rng_below(r, 9), harm_a[nh] = urange(r, 0.02, 0.04);
    if (st == MASS_IRREGULAR || st == MASS_SPICULATED)
        for (; nh < 5; nh++) harm_k[nh] = 2 + nh, harm_a[nh] = urange(r, 0.05, 0.22) / (1 + 0.3 * nh);
    for (int i = 0; i < nh; i++) harm_p[i] = urange(r, 0, 2 * M_PI);
    double soft = l->blur_mm * c->pxmm + (l->blur_mm < 0.5 ? 0.3 : 0);
    for (int j = 0; j < L->h; j++)
        for (int i = 0; i < L->w; i++) {
            double dx = i + L->x0 + 0.5 - cx, dy = j + L->y0 + 0.5 - cy;
            double rx = dx * cos(rot) + dy * sin(rot), ry = -dx * sin(rot) + dy * cos(rot);
            double th = atan2(ry, rx);
            double rr = sqrt(rx * rx + ry * ry);
            double ct = cos(th) / ax, st_ = sin(th) / ay;
            double Rt = R0 / sqrt(ct * ct + st_ * st_);
            for (int k = 0; k < nh; k++) Rt *= 1 + harm_a[k] * sin(harm_k[k] * th + harm_p[k]);
            double q = rr / Rt;
            double edge = 1 / (1 + exp((rr - Rt) / soft));
            double prof = 0.55 + 0.45 * sqrt(fmax(0, 1 - fmin(q, 1) * fmin(q, 1)));
            size_t o = (size_t)j * L->w + i;
            L->val[o] = (float)(l->contrast * edge * prof);
            if (q < 1) L->mask[o] = 255;
        }
    if (st == MASS_SPICULATED) {
        int n = 10 + (int)ndx_rng_below(r, 30);
        for (int s = 0; s < n; s++) {
            double a = urange(r, 0, 2 * M_PI);
            double len = urange(r, 0.3, 1.0) * R0 * 1.3;
            double w0 = urange(r, 0.3, 1.0) * c->pxmm;
            double x = cx + cos(a) * R0 * 0.8, y = cy + sin(a) * R0 * 0.8;
            double curve = urange(r, -0.3, 0.3);
            ndx__line(L, x, y, a, len, w0, 0.1 * c->pxmm, (float)(0.7 * l->contrast), curve, 0);
            if (ndx_rng_uniform(r) < 0.3)
                ndx__line(L, x + cos(a) * len * 0.5, y + sin(a) * len * 0.5, a + urange(r, -0.6, 0.6),
                     len * 0.4, w0 * 0.5, 0.1 * c->pxmm, (float)(0.5 * l->contrast), 0, 0);
        }
    }
}

/* Architectural distortion: thin, faint, curved lines converging roughly
 * on a point, no core; they fade toward that point and toward the edge of
 * their disc mask, and stay inside it. */
static void render_distortion(layer *L, const lesion_plan *l, ndx_rng *r, double pxmm,
                              double cx, double cy)
{
    double Rm = 0.5 * l->size_mm * pxmm;
    int n = 14 + (int)ndx_rng_below(r, 14);
    for (int s = 0; s < n; s++) {
        double a = urange(r, 0, 2 * M_PI), r0 = urange(r, 1.5, 5.0) * pxmm;
        double len = urange(r, 0.5, 0.9) * Rm - r0;
        if (len < pxmm) continue;
        ndx__line(L, cx + cos(a) * r0, cy + sin(a) * r0, a + urange(r, -0.2, 0.2), len,
                  urange(r, 0.15, 0.35) * pxmm, 0.1 * pxmm, (float)(l->contrast * urange(r, 0.5, 1.0)),
                  urange(r, -0.35, 0.35), 0);
    }
    for (int j = 0; j < L->h; j++)
        for (int i = 0; i < L->w; i++) {
            double dx = i + L->x0 + 0.5 - cx, dy = j + L->y0 + 0.5 - cy, q = sqrt(dx * dx + dy * dy) / Rm;
            size_t o = (size_t)j * L->w + i;
            double in = q < 0.25 ? q / 0.25 : 1;
            if (q < 1) L->mask[o] = 255;
            L->val[o] *= q < 1 ? (float)(in * in * (3 - 2 * in) * (1 - q * q * q)) : 0;
        }
}

static void render_calc(layer *L, const canvas *c, const lesion_plan *l, ndx_rng *r, double cx,
                        double cy)
{
    double rc = 0.5 * l->size_mm * c->pxmm;   /* cluster radius */
    int st = l->subtype;
    int n = st == CALC_COARSE ? 4 + (int)ndx_rng_below(r, 6) : 5 + (int)ndx_rng_below(r, 26);
    double maxd = 0;
    if (st == CALC_FINE_LINEAR) {
        /* broken segments along a small branching duct tree */
        int branches = 2 + (int)ndx_rng_below(r, 2);
        double a0 = urange(r, 0, 2 * M_PI);
        for (int b = 0; b < branches; b++) {
            double a = a0 + urange(r, -0.7, 0.7), x = cx, y = cy;
            int segs = (n + branches - 1) / branches;
            for (int s = 0; s < segs; s++) {
                double len = urange(r, 0.5, 2.0) * c->pxmm;
                ndx__line(L, x, y, a, len, urange(r, 0.1, 0.3) * c->pxmm, 0.1 * c->pxmm,
                     (float)(l->contrast * urange(r, 0.7, 1.0)), 0, 0);
                x += cos(a) * (len + urange(r, 0.3, 1.0) * c->pxmm);
                y += sin(a) * (len + urange(r, 0.3, 1.0) * c->pxmm);
                a += urange(r, -0.3, 0.3);
                double d = hypot(x - cx, y - cy);
                if (d > maxd) maxd = d;
                if (d > rc * 1.6) break;
            }
        }
    } else {
        for (int s = 0; s < n; s++) {
            double rr = rc * sqrt(ndx_rng_uniform(r)), a = urange(r, 0, 2 * M_PI);
            double x = cx + rr * cos(a), y = cy + rr * sin(a);
            float v = (float)(l->contrast * urange(r, 0.6, 1.0));
            if (rr > maxd) maxd = rr;
            if (st == CALC_PUNCTATE) {
                ndx__stamp(L, x, y, urange(r, 0.1, 0.25) * c->pxmm, v, 0);
            } else if (st == CALC_COARSE) {
                ndx__stamp(L, x, y, urange(r, 0.25, 0.5) * c->pxmm, v, 0);
            } else {   /* pleomorphic: irregular specks of a few pieces */
                int parts = 2 + (int)ndx_rng_below(r, 3);
                for (int p = 0; p < parts; p++)
                    ndx__stamp(L, x + urange(r, -0.15, 0.15) * c->pxmm, y + urange(r, -0.15, 0.15) * c->pxmm,
                          urange(r, 0.05, 0.18) * c->pxmm, v * (float)urange(r, 0.7, 1.0), 0);
            }
        }
    }
    double mr = maxd + 1.0 * c->pxmm;
    for (int j = 0; j < L->h; j++)
        for (int i = 0; i < L->w; i++) {
            double dx = i + L->x0 + 0.5 - cx, dy = j + L->y0 + 0.5 - cy;
            if (dx * dx + dy * dy < mr * mr) L->mask[(size_t)j * L->w + i] = 255;
        }
}

/* A tortuous path as a polyline of up to cap points, step 0.5 px. */
static int vessel_path(const canvas *c, const lesion_plan *l, ndx_rng *r, double x, double y,
                       double *px, double *py, int cap)
{
    double len = l->size_mm * c->pxmm;
    double a0 = urange(r, -0.8, 0.8) + (ndx_rng_uniform(r) < 0.5 ? M_PI : 0);
    /* tortuous: the heading wiggles around a0 with two slow sinusoids */
    double A1 = urange(r, 0.2, 0.45), L1 = urange(r, 8, 20) * c->pxmm, p1 = urange(r, 0, 2 * M_PI);
    double A2 = urange(r, 0.1, 0.3), L2 = urange(r, 3, 6) * c->pxmm, p2 = urange(r, 0, 2 * M_PI);
    int n = 0;
    for (double t = 0; t < len && n < cap; t += 0.5) {
        px[n] = x, py[n] = y, n++;
        double a = a0 + A1 * sin(2 * M_PI * t / L1 + p1) + A2 * sin(2 * M_PI * t / L2 + p2);
        x += 0.5 * cos(a);
        y += 0.5 * sin(a);
        if (x < 2 || y < 2 || y > c->h - 3 || x > edge_x(c, y) - 3) break;
    }
    return n;
}

static void render_vessel(layer *L, const canvas *c, const lesion_plan *l, ndx_rng *r,
                          const double *px, const double *py, int n)
{
    double sep = urange(r, 1.0, 2.0) * c->pxmm, hw = urange(r, 0.15, 0.3) * c->pxmm;
    int on = 1;
    double left = urange(r, 3, 10) * c->pxmm;
    for (int i = 0; i < n; i++) {
        int a = i > 0 ? i - 1 : 0, b = i + 1 < n ? i + 1 : n - 1;
        double tx = px[b] - px[a], ty = py[b] - py[a], tn = hypot(tx, ty);
        if (tn <= 0) continue;
        double nx = -ty / tn, ny = tx / tn;
        left -= 0.5;
        if (left <= 0) {
            on = !on;
            left = on ? urange(r, 3, 12) * c->pxmm : urange(r, 0.5, 2.5) * c->pxmm;
        }
        if (on) {
            ndx__stamp(L, px[i] + nx * sep / 2, py[i] + ny * sep / 2, hw, (float)l->contrast, 0);
            ndx__stamp(L, px[i] - nx * sep / 2, py[i] - ny * sep / 2, hw, (float)l->contrast, 0);
        }
        if (i % 2 == 0) ndx__stamp(L, px[i], py[i], sep / 2 + 0.5 * c->pxmm, 0, 1);
    }
}

typedef struct image_job {
    int patient, side, view;
    const patient_plan *pp;
    char image_rel[128];
} image_job;

static void breast_shape(canvas *c, const patient_plan *pp, int side, int view, ndx_rng *r)
{
    int w = c->w, h = c->h;
    double jit = 1 + 0.03 * (side ? 1 : -1) * ndx_rng_uniform(r);
    c->a = pp->a_mm * c->pxmm * jit * (view ? 1.05 : 1.0);
    c->b = pp->b_mm * c->pxmm * (view ? 1.1 : 1.0);
    c->cy = view ? 0.56 * h : 0.5 * h + urange(r, -0.04, 0.04) * h;
    if (c->a > 0.95 * w) c->a = 0.95 * w;
    double ph[4], pa[4];
    for (int k = 0; k < 4; k++) ph[k] = urange(r, 0, 2 * M_PI), pa[k] = urange(r, 0.005, 0.025) / (k + 1);
    double pw = view ? urange(r, 0.30, 0.42) * w : 0, pht = view ? urange(r, 0.40, 0.55) * h : 1;
    double n = pp->n_exp;
    for (int y = 0; y < h; y++) {
        double t = (y + 0.5 - c->cy) / (view && y < c->cy ? c->cy * 1.03 : c->b);
        double at = fabs(t), x = 0;
        if (at < 1) x = c->a * pow(1 - pow(at, n), 1 / n);
        double pert = 1;
        for (int k = 0; k < 4; k++) pert += pa[k] * sin((k + 1) * M_PI * t + ph[k]);
        x *= pert;
        double xp = 0;
        if (view && y < pht) xp = pw * pow(1 - (y + 0.5) / pht, 0.8);   /* convex front edge */
        if (view && y < c->cy && x < xp + 0.12 * w) x = xp + 0.12 * w;
        c->xe[y] = (float)x;
        c->xp[y] = (float)xp;
    }
    for (int y = 0; y < h; y++) {
        int k = (int)(2 * c->pxmm) + 1, ya = y - k < 0 ? 0 : y - k, yb = y + k >= h ? h - 1 : y + k;
        double d = (c->xe[yb] - c->xe[ya]) / (yb - ya > 0 ? yb - ya : 1);
        c->slope[y] = (float)fmax(0.25, 1 / sqrt(1 + d * d));
    }
}

/* One image's buffers: the canvas, the noise grid (gw x gh cells of `cell`
 * px, stretched along x), the 16-bit output and a lesion's mask. */
typedef struct image_ws {
    canvas c;
    double cell, stretch;
    int gw, gh;
    float *gre, *gim;          /* gim: also 2 rows of the final blur */
    uint16_t *out;
    uint8_t *mask;
} image_ws;

static void image_free(image_ws *s)
{
    free(s->c.img), free(s->c.xe), free(s->c.xp), free(s->c.slope);
    free(s->gre), free(s->gim), free(s->out), free(s->mask);
}

static ndx_status image_alloc(image_ws *s, int w, int h, double pxmm)
{
    memset(s, 0, sizeof *s);
    s->c = (canvas){w, h, pxmm, NULL, NULL, NULL, NULL, 0, 0, 0, 0};
    /* 320 um noise grid (at least 1.5 px), stretched along x */
    s->cell = fmax(0.32 * pxmm, 1.5), s->stretch = 1.6;
    s->gw = ndx__pow2_at_least((int)ceil(w / (s->cell * s->stretch)) + 1);
    s->gh = ndx__pow2_at_least((int)ceil(h / s->cell) + 1);
    const size_t npx = (size_t)w * h, gn = (size_t)s->gw * s->gh;
    s->c.img = malloc(npx * sizeof *s->c.img);
    s->c.xe = malloc(h * sizeof *s->c.xe);
    s->c.xp = malloc(h * sizeof *s->c.xp);
    s->c.slope = malloc(h * sizeof *s->c.slope);
    s->gre = malloc(gn * sizeof *s->gre);
    s->gim = malloc((gn > 2 * (size_t)w ? gn : 2 * (size_t)w) * sizeof *s->gim);
    s->out = malloc(npx * sizeof *s->out);
    s->mask = malloc(npx);
    if (!s->c.img || !s->c.xe || !s->c.xp || !s->c.slope || !s->gre || !s->gim || !s->out ||
        !s->mask)
        return ndx__fail(NDX_ERR_NOMEM, "synth: out of memory for a %dx%d image", w, h);
    return NDX_OK;
}

/* The glandular field F = noise + envelope bias inside the breast (-100
 * outside); *tau: its quantile at the patient's dense fraction. */
static ndx_status glandular_field(image_ws *s, const patient_plan *pp, ndx_rng *r, float *tau)
{
    canvas *c = &s->c;
    const int w = c->w, h = c->h;
    double ex = urange(r, 0.35, 0.5) * c->a, ey = c->cy - urange(r, 0.0, 0.2) * c->b;
    double sx = 0.45 * c->a, sy = 0.55 * c->b;
    enum { NB = 512 };
    long hist[NB] = {0};
    long inside = 0;
    const float flo = -6, fhi = 6;
    /* the envelope is separable: exp(-x^2/2) per column times per row */
    float *envx = malloc(sizeof *envx * w);
    if (!envx) return ndx__fail(NDX_ERR_NOMEM, "synth: out of memory");
    for (int x = 0; x < w; x++) envx[x] = (float)exp(-0.5 * ((x - ex) / sx) * ((x - ex) / sx));
    for (int y = 0; y < h; y++) {
        float xe = c->xe[y];
        double gy = y / s->cell;
        float *row = c->img + (size_t)y * w;
        double eyy = (y - ey) / sy;
        float envy = (float)exp(-0.5 * eyy * eyy);
        for (int x = 0; x < w; x++) {
            if (x >= xe) { row[x] = -100; continue; }
            float n = ndx__grid_sample(s->gre, s->gw, s->gh, x / (s->cell * s->stretch), gy);
            float env = envx[x] * envy;
            double d = (xe - x) * c->slope[y] / c->pxmm;                  /* mm to the edge */
            double edge = d > 8 ? 1 : d / 8;
            float f = (float)(0.9 * n + 2.4 * (env * edge - 0.45));
            row[x] = f;
            if (x % 2 == 0 && y % 2 == 0) {
                int b = (int)((f - flo) / (fhi - flo) * NB);
                hist[b < 0 ? 0 : b >= NB ? NB - 1 : b]++;
                inside++;
            }
        }
    }
    free(envx);
    long want = (long)(inside * (1 - pp->dense_frac)), acc = 0;
    int tb = 0;
    while (tb < NB - 1 && acc + hist[tb] < want) acc += hist[tb++];
    *tau = flo + (fhi - flo) * (tb + 0.5f) / NB;
    return NDX_OK;
}

/* The field thresholded at tau into tissue intensities: fat and dense
 * levels, fine texture, pectoral muscle, thickness fall-off, skin line. */
static void tissue(image_ws *s, float tau, ndx_rng *r)
{
    canvas *c = &s->c;
    const int w = c->w, h = c->h;
    float fat = (float)urange(r, 0.26, 0.34), dense = fat + (float)urange(r, 0.25, 0.33);
    c->dense = dense;
    float pect = dense + 0.08f;
    /* fine texture: the imaginary field at a finer, rotated scale */
    const double fs = 2.37 / s->cell, ca = cos(0.6), sa = sin(0.6);
    for (int y = 0; y < h; y++) {
        float *row = c->img + (size_t)y * w;
        float xe = c->xe[y], xp = c->xp[y];
        for (int x = 0; x < w; x++) {
            if (row[x] <= -100) { row[x] = 0; continue; }
            float t = (row[x] - tau) / 1.6f + 0.5f;
            t = t < 0 ? 0 : t > 1 ? 1 : t * t * (3 - 2 * t);
            float fine = ndx__grid_sample(s->gim, s->gw, s->gh, fs * (ca * x - sa * y), fs * (sa * x + ca * y));
            float tis = fat + (dense - fat) * t + 0.035f * (0.3f + 0.7f * t) * fine;
            if (x < xp) {   /* pectoral muscle, its edge blurred over ~1 mm */
                float m = (float)((xp - x) / c->pxmm);
                tis += (pect - tis) * (m > 1 ? 1 : m);
            }
            double d = (xe - x) * c->slope[y] / c->pxmm;
            double th = d >= 15 ? 1 : sqrt(1 - (1 - d / 15) * (1 - d / 15));
            float v = tis * (float)(0.45 + 0.55 * th);
            if (d < 0.75) v += 0.08f * (float)(1 - d / 0.75);   /* skin line */
            row[x] = v;
        }
    }
}

/* Lesion l drawn in its own layer (its shape from its own seed: the same in
 * both views), added to the image inside the breast; its mask (mirrored for
 * RIGHT) written as masks/<image>_<id>.png unless dry. */
static ndx_status add_lesion(const char *out_dir, const image_job *job, image_ws *s,
                             const lesion_plan *l, int id, int dry)
{
    canvas *c = &s->c;
    const int w = c->w, h = c->h;
    const double pxmm = c->pxmm;
    ndx_rng lr;
    ndx_rng_seed(&lr, l->seed);
    int kind = subtypes[l->subtype].kind;
    double reach = kind == NDX_LESION_MASS ? 0.5 * l->size_mm * 2.5 : kind == NDX_LESION_CALC ? 0.5 * l->size_mm * 1.8 + 2
                   : 0.5 * l->size_mm * 1.2 + 2;
    double cx, cy;
    place(c, l, job->view, kind == NDX_LESION_VESSEL ? 3 * pxmm : 0.5 * l->size_mm * pxmm, &cx, &cy);
    layer L = {0};
    if (kind == NDX_LESION_VESSEL) {
        int cap = (int)(l->size_mm * pxmm * 2) + 4;
        double *vx = malloc(sizeof *vx * cap), *vy = malloc(sizeof *vy * cap);
        int bad = !vx || !vy;
        if (!bad) {
            const int nv = vessel_path(c, l, &lr, cx, cy, vx, vy, cap);
            double x0 = cx, x1 = cx, y0 = cy, y1 = cy;
            for (int i = 0; i < nv; i++) {
                x0 = fmin(x0, vx[i]), x1 = fmax(x1, vx[i]), y0 = fmin(y0, vy[i]), y1 = fmax(y1, vy[i]);
            }
            double m = 3 * pxmm;
            bad = layer_init(&L, c, (x0 + x1) / 2, (y0 + y1) / 2, fmax(x1 - x0, y1 - y0) / 2 + m);
            if (!bad) render_vessel(&L, c, l, &lr, vx, vy, nv);
        }
        free(vx), free(vy);
        if (bad) {
            layer_free(&L);
            return ndx__fail(NDX_ERR_NOMEM, "synth: out of memory");
        }
    } else {
        if (layer_init(&L, c, cx, cy, reach * pxmm)) {
            layer_free(&L);
            return ndx__fail(NDX_ERR_NOMEM, "synth: out of memory");
        }
        if (kind == NDX_LESION_MASS) render_mass(&L, c, l, &lr, cx, cy);
        else if (kind == NDX_LESION_DISTORTION) render_distortion(&L, l, &lr, c->pxmm, cx, cy);
        else render_calc(&L, c, l, &lr, cx, cy);
    }
    uint8_t *mask = s->mask;
    memset(mask, 0, (size_t)w * h);
    for (int j = 0; j < L.h; j++)
        for (int i = 0; i < L.w; i++) {
            size_t o = (size_t)(j + L.y0) * w + (i + L.x0);
            size_t k = (size_t)j * L.w + i;
            if (c->img[o] <= 0) continue;   /* outside the breast */
            /* a mass is tissue as dense as the glands replacing fat over
             * part of the path (its size / 50 mm, at most 0.6) */
            if (kind == NDX_LESION_MASS)
                c->img[o] += (float)(fmin(0.6, l->size_mm / 50) * L.val[k] / l->contrast) *
                             fmaxf(0, c->dense - c->img[o]);
            c->img[o] += L.val[k];
            mask[o] = L.mask[k];
        }
    layer_free(&L);
    if (dry) return NDX_OK;
    if (job->side == 1)
        for (int y = 0; y < h; y++) {
            uint8_t *row = mask + (size_t)y * w;
            for (int a = 0, b = w - 1; a < b; a++, b--) {
                uint8_t t = row[a]; row[a] = row[b]; row[b] = t;
            }
        }
    char *path = ndx__strf("%s/masks/%.*s_%d.png", out_dir, (int)(strlen(job->image_rel) - 11),
                           job->image_rel + 7, id);
    ndx_status st = path ? ndx_png_write8(path, mask, w, h, 1) : NDX_ERR_NOMEM;
    free(path);
    return st;
}

/* Renders one image and writes it and its masks (unless dry): the breast's
 * outline, the glandular field and tissue, each lesion of this side, the
 * blur, noise and quantisation. */
static ndx_status render_image(const char *out_dir, const image_job *job, int w, int h,
                               double pxmm, int dry)
{
    const patient_plan *pp = job->pp;
    ndx_rng r;
    uint64_t key[3] = {pp->seed, (uint64_t)job->side, (uint64_t)job->view};
    ndx_rng_seed(&r, ndx_hash64(key, sizeof key, 0x1a6e));
    image_ws s;
    ndx_status st = image_alloc(&s, w, h, pxmm);
    float tau = 0;
    if (!st) {
        breast_shape(&s.c, pp, job->side, job->view, &r);
        ndx__powerlaw_noise(s.gre, s.gim, s.gw, s.gh, urange(&r, 2.7, 3.3), &r);
        st = glandular_field(&s, pp, &r, &tau);
    }
    if (!st) tissue(&s, tau, &r);
    for (int li = 0, id = 0; li < pp->nlesions && !st; li++)
        if (pp->les[li].side == job->side) st = add_lesion(out_dir, job, &s, &pp->les[li], ++id, dry);
    if (!st) ndx__finish_image(s.c.img, w, h, s.gim, s.out, job->side, &r);
    if (!st && !dry) {
        char *path = ndx__strf("%s/%s", out_dir, job->image_rel);
        st = path ? ndx_png_write16(path, s.out, w, h) : NDX_ERR_NOMEM;
        free(path);
    }
    image_free(&s);
    return st;
}

void ndx_synth_defaults(ndx_synth_opts *o)
{
    memset(o, 0, sizeof *o);
    o->patients = 100;
    o->seed = 1;
    o->pixel_um = 100;
    o->normal_frac = 0.5;
}

static ndx_status synth(const char *out_dir, const ndx_synth_opts *o, ndx_synth_stats *stats)
{
    if (o->patients < 1 || o->patients > 99999)
        return ndx__fail(NDX_ERR_INVALID, "synth: patients must be 1..99999, got %d", o->patients);
    if (!(o->pixel_um >= 50 && o->pixel_um <= 400))
        return ndx__fail(NDX_ERR_INVALID, "synth: pixel_um must be 50..400, got %g", o->pixel_um);
    if (!(o->normal_frac >= 0 && o->normal_frac <= 1))
        return ndx__fail(NDX_ERR_INVALID, "synth: normal_frac must be 0..1, got %g", o->normal_frac);
    double pxmm = 1000.0 / o->pixel_um;
    int w = (int)lround(100 * pxmm), h = (int)lround(160 * pxmm);
    ndx_status st;
    for (int k = 0; k < 3 && !o->dry_run; k++) {
        char *sub = ndx__strf("%s%s", out_dir, k == 0 ? "" : k == 1 ? "/images" : "/masks");
        st = sub ? ndx__mkdirs(sub) : NDX_ERR_NOMEM;
        free(sub);
        if (st != NDX_OK) return st;
    }
    int np = o->patients, nimg = 4 * np;
    patient_plan *plans = calloc((size_t)np, sizeof *plans);
    image_job *jobs = calloc((size_t)nimg, sizeof *jobs);
    if (!plans || !jobs) {
        free(plans), free(jobs);
        return ndx__fail(NDX_ERR_NOMEM, "synth: out of memory for %d patients", np);
    }
    for (int p = 0; p < np; p++) {
        plan_patient(&plans[p], o->seed, p, o->normal_frac);
        for (int k = 0; k < 4; k++) {
            image_job *j = &jobs[4 * p + k];
            j->patient = p, j->side = k / 2, j->view = k % 2, j->pp = &plans[p];
            snprintf(j->image_rel, sizeof j->image_rel, "images/P_%05d_%s_%s.png", p + 1,
                     side_name[j->side], view_name[j->view]);
        }
    }
    /* first failure wins; the others stop early */
    ndx_status first = NDX_OK;
    char *first_msg = NULL;
    long done = 0;
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    int threads = ndx_get_threads();
    #pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
    for (int i = 0; i < nimg; i++) {
        ndx_status s;
        #pragma omp atomic read
        s = first;
        if (s != NDX_OK) continue;
        s = render_image(out_dir, &jobs[i], w, h, pxmm, o->dry_run);
        pthread_mutex_lock(&mu);   /* not a named critical: its lock is exported */
        if (s != NDX_OK && first == NDX_OK) {
            first = s;
            first_msg = ndx__strf("%s", ndx_last_error());
        }
        done++;
        if (o->progress) o->progress(o->progress_ctx, done, nimg);
        pthread_mutex_unlock(&mu);
    }
    st = first;
    if (st != NDX_OK) ndx__fail_take(st, first_msg);

    ndx_synth_stats S;
    memset(&S, 0, sizeof S);
    S.width = w, S.height = h, S.patients = np, S.images = nimg;
    ndx_manifest m = {0};
    for (int p = 0; p < np && st == NDX_OK; p++) {
        const patient_plan *pp = &plans[p];
        S.density[pp->grade]++;
        if (!pp->nlesions) S.normal_patients++;
        for (int k = 0; k < 4 && st == NDX_OK; k++) {
            const image_job *j = &jobs[4 * p + k];
            ndx_manifest_row r;
            memset(&r, 0, sizeof r);
            snprintf(r.patient_id, sizeof r.patient_id, "P_%05d", p + 1);
            r.breast_density = pp->grade + 1;
            snprintf(r.side, sizeof r.side, "%s", side_name[j->side]);
            snprintf(r.view, sizeof r.view, "%s", view_name[j->view]);
            snprintf(r.image_path, sizeof r.image_path, "%s", j->image_rel);
            int id = 0;
            for (int li = 0; li < pp->nlesions && st == NDX_OK; li++) {
                const lesion_plan *l = &pp->les[li];
                if (l->side != j->side) continue;
                const struct subtype *t = &subtypes[l->subtype];
                ndx_manifest_row lr = r;
                lr.abnormality_id = ++id;
                snprintf(lr.abnormality_type, sizeof lr.abnormality_type, "%s",
                         t->kind == NDX_LESION_MASS || t->kind == NDX_LESION_DISTORTION ? "mass"
                                                                                        : "calcification");
                snprintf(lr.mass_shape, sizeof lr.mass_shape, "%s", t->shape);
                snprintf(lr.mass_margins, sizeof lr.mass_margins, "%s", t->margins);
                snprintf(lr.calc_type, sizeof lr.calc_type, "%s", t->calc_type);
                snprintf(lr.calc_distribution, sizeof lr.calc_distribution, "%s", t->distribution);
                lr.assessment = l->assessment;
                snprintf(lr.pathology, sizeof lr.pathology, "%s", path_name[l->pathology]);
                lr.subtlety = l->subtlety;
                snprintf(lr.mask_path, sizeof lr.mask_path, "masks/P_%05d_%s_%s_%d.png", p + 1,
                         side_name[j->side], view_name[j->view], id);
                st = ndx_manifest_add(&m, &lr);
                S.lesions++;
                S.kind[t->kind][l->malignant]++;
            }
            if (!id && st == NDX_OK) {
                r.assessment = 1;
                st = ndx_manifest_add(&m, &r);
            }
        }
    }
    if (st == NDX_OK && !o->dry_run) {
        char *man = ndx__strf("%s/manifest.csv", out_dir);
        st = man ? ndx_manifest_write(man, &m) : NDX_ERR_NOMEM;
        free(man);
    }
    ndx_manifest_free(&m);
    free(plans);
    free(jobs);
    if (st == NDX_OK && stats) *stats = S;
    return st;
}

double ndx__synth_min_malignant_visibility(uint64_t seed, int n, long *count)
{
    double lo = INFINITY;
    *count = 0;
    for (int p = 0; p < n; p++) {
        patient_plan pp;
        plan_patient(&pp, seed, p, 0);
        for (int i = 0; i < pp.nlesions; i++)
            if (pp.les[i].malignant) {
                ++*count;
                if (pp.les[i].visibility < lo) lo = pp.les[i].visibility;
            }
    }
    return lo;
}

long ndx__synth_distortion_outside(double size_mm, double pxmm, uint64_t seed, long *on)
{
    lesion_plan l = {.subtype = DISTORTION, .size_mm = size_mm, .contrast = 0.07};
    canvas c = {.w = (int)(4 * size_mm * pxmm), .h = (int)(4 * size_mm * pxmm), .pxmm = pxmm};
    layer L = {0};
    long out = -1;
    *on = 0;
    ndx_rng r;
    ndx_rng_seed(&r, seed);
    double cx = c.w / 2.0, cy = c.h / 2.0;
    if (!layer_init(&L, &c, cx, cy, 0.5 * size_mm * 1.2 * pxmm + 2 * pxmm)) {
        render_distortion(&L, &l, &r, pxmm, cx, cy);
        out = 0;
        for (size_t k = 0; k < (size_t)L.w * L.h; k++)
            if (L.val[k] > 0) ++*on, out += !L.mask[k];
    }
    layer_free(&L);
    return out;
}

/* out_dir checked and locked for the run (its files are written in place). */
ndx_status ndx_synth(const char *out_dir, const ndx_synth_opts *o, ndx_synth_stats *stats)
{
    ndx_ioplan *p = NULL;
    ndx_status st = o->dry_run ? NDX_OK : ndx_ioplan_new("synth", &p);
    if (!st && p) st = ndx_ioplan_output(p, "--out", out_dir, NDX_OUT_DIR | NDX_OUT_MKDIRS);
    if (!st && p) st = ndx_ioplan_begin(p);
    if (!st) st = synth(out_dir, o, stats);
    ndx_ioplan_free(p);
    return st;
}

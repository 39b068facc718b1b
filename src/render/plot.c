/* Plots for every stage (src/render: drawing, no training logic): roc.png
 * and loss.png, drawn here on an RGB canvas with the 5x7 font of font.c,
 * written by ndx_png_write8 (src/io, stb_image_write).
 *
 * Canvas: w x h RGB, (0,0) top left.  A plot maps data (x, y) to the inner
 * box [l, r] x [t, b] of pixels, y growing upwards. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/core.h"
#include "font.h"

typedef struct { unsigned char r, g, b; } rgb;
static const rgb WHITE = {255, 255, 255}, BLACK = {0, 0, 0}, GRID = {225, 225, 225},
                 GREY = {150, 150, 150}, BLUE = {31, 119, 180}, ORANGE = {255, 127, 14};

typedef struct {
    int w, h;
    unsigned char *px;
    int l, r, t, b;            /* the plot box */
    double x0, x1, y0, y1;     /* data range of the box */
} canvas;

static void dot(canvas *c, int x, int y, rgb k)
{
    if (x < 0 || y < 0 || x >= c->w || y >= c->h) return;
    unsigned char *p = c->px + 3 * ((size_t)y * c->w + x);
    p[0] = k.r, p[1] = k.g, p[2] = k.b;
}

static void rect(canvas *c, int x0, int y0, int x1, int y1, rgb k)
{
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) dot(c, x, y, k);
}

/* A line of the given width (odd), with an optional dash pattern (on, off
 * pixels along its major axis; 0 = solid). */
static void line(canvas *c, double xa, double ya, double xb, double yb, int width,
                 rgb k, int dash)
{
    double dx = xb - xa, dy = yb - ya;
    int steps = (int)ceil(fmax(fabs(dx), fabs(dy)));
    if (steps < 1) steps = 1;
    int hw = width / 2;
    for (int i = 0; i <= steps; i++) {
        if (dash && (i / dash) % 2) continue;
        int x = (int)lround(xa + dx * i / steps), y = (int)lround(ya + dy * i / steps);
        rect(c, x - hw, y - hw, x + hw, y + hw, k);
    }
}

static int text_width(const char *s, int scale)
{
    int n = (int)strlen(s);
    return n ? (n * NDX_FONT_ADVANCE - 1) * scale : 0;
}

/* Text with its top-left corner at (x, y); rotated 90 degrees
 * counter-clockwise (reading upwards) when up is 1, then (x, y) is the
 * bottom-left corner. */
static void text(canvas *c, int x, int y, const char *s, int scale, rgb k, int up)
{
    for (int i = 0; s[i]; i++)
        for (int gy = 0; gy < NDX_FONT_CELL_H; gy++)
            for (int gx = 0; gx < NDX_FONT_W; gx++) {
                if (!ndx__font_pixel(s[i], gx, gy)) continue;
                int u = (i * NDX_FONT_ADVANCE + gx) * scale, v = gy * scale;
                if (up)
                    rect(c, x + v, y - u - scale + 1, x + v + scale - 1, y - u, k);
                else
                    rect(c, x + u, y + v, x + u + scale - 1, y + v + scale - 1, k);
            }
}

static double px_x(const canvas *c, double x)
{
    return c->l + (x - c->x0) / (c->x1 - c->x0) * (c->r - c->l);
}
static double px_y(const canvas *c, double y)
{
    return c->b - (y - c->y0) / (c->y1 - c->y0) * (c->b - c->t);
}

/* A step of 1, 2 or 5 times a power of ten giving about `want` ticks. */
static double nice_step(double range, int want)
{
    double raw = range / want, p = pow(10, floor(log10(raw))), m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

static void fmt_tick(char *buf, size_t n, double v, double step)
{
    int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    if (fabs(v) < step * 1e-6) v = 0;
    snprintf(buf, n, "%.*f", dec, v);
}

/* Grid, ticks and tick labels at multiples of xs and ys, the box, the axis
 * labels and the title. */
static void axes(canvas *c, double xs, double ys, const char *xlabel,
                 const char *ylabel, const char *title)
{
    char buf[64];
    for (double v = ceil(c->x0 / xs - 1e-9) * xs; v <= c->x1 + xs * 1e-9; v += xs) {
        int x = (int)lround(px_x(c, v));
        line(c, x, c->t, x, c->b, 1, GRID, 0);
        line(c, x, c->b, x, c->b + 6, 1, BLACK, 0);
        fmt_tick(buf, sizeof buf, v, xs);
        text(c, x - text_width(buf, 2) / 2, c->b + 12, buf, 2, BLACK, 0);
    }
    for (double v = ceil(c->y0 / ys - 1e-9) * ys; v <= c->y1 + ys * 1e-9; v += ys) {
        int y = (int)lround(px_y(c, v));
        line(c, c->l, y, c->r, y, 1, GRID, 0);
        line(c, c->l - 6, y, c->l, y, 1, BLACK, 0);
        fmt_tick(buf, sizeof buf, v, ys);
        text(c, c->l - 10 - text_width(buf, 2), y - NDX_FONT_H, buf, 2, BLACK, 0);
    }
    line(c, c->l, c->t, c->r, c->t, 1, BLACK, 0);
    line(c, c->l, c->b, c->r, c->b, 1, BLACK, 0);
    line(c, c->l, c->t, c->l, c->b, 1, BLACK, 0);
    line(c, c->r, c->t, c->r, c->b, 1, BLACK, 0);
    text(c, (c->l + c->r - text_width(xlabel, 2)) / 2, c->b + 40, xlabel, 2, BLACK, 0);
    text(c, 14, (c->t + c->b + text_width(ylabel, 2)) / 2, ylabel, 2, BLACK, 1);
    if (title) text(c, (c->l + c->r - text_width(title, 3)) / 2, 14, title, 3, BLACK, 0);
}

static ndx_status canvas_new(canvas *c, int w, int h, const char *path)
{
    memset(c, 0, sizeof *c);
    c->w = w, c->h = h;
    c->px = malloc((size_t)w * h * 3);
    if (!c->px) return ndx__fail(NDX_ERR_NOMEM, "plot %s: out of memory", path);
    memset(c->px, 255, (size_t)w * h * 3);
    return NDX_OK;
}

static ndx_status canvas_write(canvas *c, const char *path)
{
    ndx_status st = ndx_png_write8(path, c->px, c->w, c->h, 3);
    free(c->px);
    c->px = NULL;
    return st;
}

ndx_status ndx_plot_roc(const char *path, const double *fpr, const double *tpr,
                        size_t npoints, double auc, const char *title)
{
    if (!path || !fpr || !tpr || npoints < 2)
        return ndx__fail(NDX_ERR_INVALID, "plot_roc: need a path and at least 2 points "
                         "(got %zu)", npoints);
    for (size_t i = 0; i < npoints; i++)
        if (!(fpr[i] >= 0 && fpr[i] <= 1 && tpr[i] >= 0 && tpr[i] <= 1))
            return ndx__fail(NDX_ERR_INVALID, "plot_roc %s: point %zu (%g, %g) is outside "
                             "[0,1]^2", path, i, fpr[i], tpr[i]);
    canvas c;
    ndx_status st = canvas_new(&c, 600, 600, path);
    if (st) return st;
    c.l = 90, c.r = 570, c.t = 50, c.b = 530;
    c.x0 = 0, c.x1 = 1, c.y0 = 0, c.y1 = 1;
    axes(&c, 0.2, 0.2, "False positive rate", "True positive rate",
         title ? title : "ROC curve");
    line(&c, px_x(&c, 0), px_y(&c, 0), px_x(&c, 1), px_y(&c, 1), 1, GREY, 6);
    for (size_t i = 1; i < npoints; i++)
        line(&c, px_x(&c, fpr[i - 1]), px_y(&c, tpr[i - 1]), px_x(&c, fpr[i]),
             px_y(&c, tpr[i]), 3, BLUE, 0);
    char buf[64];
    if (isfinite(auc))
        snprintf(buf, sizeof buf, "AUC = %.4f", auc);
    else
        snprintf(buf, sizeof buf, "AUC = n/a");
    int tw = text_width(buf, 3);
    rect(&c, c.r - tw - 24, c.b - 52, c.r - 8, c.b - 10, BLACK);
    rect(&c, c.r - tw - 23, c.b - 51, c.r - 9, c.b - 11, WHITE);
    text(&c, c.r - tw - 16, c.b - 42, buf, 3, BLUE, 0);
    return canvas_write(&c, path);
}

ndx_status ndx_plot_loss(const char *path, const double *train_loss,
                         const double *val_loss, int n_epochs)
{
    if (!path || !train_loss || n_epochs < 1)
        return ndx__fail(NDX_ERR_INVALID, "plot_loss: need a path, losses and at least one "
                         "epoch (got %d)", n_epochs);
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < n_epochs; i++)
        for (int k = 0; k < 2; k++) {
            double v = k ? (val_loss ? val_loss[i] : NAN) : train_loss[i];
            if (isfinite(v)) lo = fmin(lo, v), hi = fmax(hi, v);
        }
    if (!isfinite(lo)) lo = 0, hi = 1;
    if (hi - lo < 1e-12 * fmax(1, fabs(hi))) {
        double pad = fmax(fabs(hi) * 0.1, 0.05);
        lo -= pad, hi += pad;
    }
    double ys = nice_step(hi - lo, 5);
    canvas c;
    ndx_status st = canvas_new(&c, 760, 500, path);
    if (st) return st;
    c.l = 110, c.r = 730, c.t = 56, c.b = 420;
    c.y0 = floor(lo / ys) * ys, c.y1 = ceil(hi / ys) * ys;
    c.x0 = n_epochs == 1 ? 0 : 1, c.x1 = n_epochs == 1 ? 2 : n_epochs;
    double xs = n_epochs <= 10 ? 1 : nice_step(c.x1 - c.x0, 8);
    if (xs < 1) xs = 1;
    axes(&c, xs, ys, "epoch", "loss", "Loss per epoch");
    const double *series[2] = {train_loss, val_loss};
    const rgb colour[2] = {BLUE, ORANGE};
    const char *name[2] = {"training", "validation"};
    for (int k = 0; k < 2; k++) {
        const double *s = series[k];
        if (!s) continue;
        for (int i = 0; i < n_epochs; i++) {
            if (!isfinite(s[i])) continue;
            double x = px_x(&c, i + 1), y = px_y(&c, s[i]);
            if (i > 0 && isfinite(s[i - 1]))
                line(&c, px_x(&c, i), px_y(&c, s[i - 1]), x, y, 3, colour[k], 0);
            rect(&c, (int)lround(x) - 4, (int)lround(y) - 4, (int)lround(x) + 4,
                 (int)lround(y) + 4, colour[k]);
        }
    }
    /* Legend inside the box, in the first corner (top right, bottom right,
     * top left, bottom left) that no data point falls in. */
    int rows = val_loss ? 2 : 1, lw = 60 + text_width(name[1], 2), lh = 14 + 26 * rows;
    int lx = c.r - lw - 16, ly = c.t + 10;
    for (int corner = 0; corner < 4; corner++) {
        int x0 = corner < 2 ? c.r - lw - 16 : c.l + 10, y0 = corner % 2 ? c.b - lh - 10 : c.t + 10;
        int hit = 0;
        for (int k = 0; k < 2 && !hit; k++)
            for (int i = 0; series[k] && i < n_epochs && !hit; i++) {
                if (!isfinite(series[k][i])) continue;
                /* the point and the segment to the next one, sampled */
                int last = i + 1 < n_epochs && isfinite(series[k][i + 1]);
                for (int t = 0; t <= (last ? 32 : 0) && !hit; t++) {
                    double v = series[k][i] + (last ? (series[k][i + 1] - series[k][i]) * t / 32 : 0);
                    double x = px_x(&c, i + 1 + t / 32.0), y = px_y(&c, v);
                    hit = x >= x0 - 8 && x <= x0 + lw + 14 && y >= y0 - 8 && y <= y0 + lh + 8;
                }
            }
        if (!hit) {
            lx = x0, ly = y0;
            break;
        }
    }
    rect(&c, lx, ly, lx + lw + 6, ly + lh, BLACK);
    rect(&c, lx + 1, ly + 1, lx + lw + 5, ly + lh - 1, WHITE);
    for (int k = 0; k < rows; k++) {
        int y = ly + 14 + 26 * k;
        line(&c, lx + 10, y + 6, lx + 44, y + 6, 3, colour[k], 0);
        rect(&c, lx + 23, y + 2, lx + 31, y + 10, colour[k]);
        text(&c, lx + 54, y, name[k], 2, BLACK, 0);
    }
    return canvas_write(&c, path);
}

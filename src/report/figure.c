/* The report's figures, drawn on an RGB canvas with the plots' 5x7 font
 * (src/render/font.c) and written by ndx_png_write8:
 *   figure4.png  like the study's Figure 4: per BI-RADS category a header
 *                band, then its best-agreed units (most readers first), each
 *                with its descriptors, common words, network / layer / unit,
 *                readers agreeing and the unit's image strip (read with
 *                libpng's simplified API as RGB, scaled to 64 rows);
 *   coverage.png horizontal bars per measure (recognizable, spurious,
 *                entangled, anatomy, each BI-RADS category used), one bar
 *                per network / layer.
 * Both carry a footer naming the survey file, its hash and the readers, and
 * a red "SIMULATED READERS" banner when any reader is simulated. */
#include <png.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "../render/font.h"

typedef struct { unsigned char r, g, b; } rgb;
static const rgb BLACK = {0, 0, 0}, WHITE = {255, 255, 255}, GREY = {110, 110, 110},
                 BAND = {232, 236, 242}, RED = {176, 0, 32}, RULE = {210, 210, 210};
static const rgb PALETTE[] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44}, {214, 39, 40},
                              {148, 103, 189}, {140, 86, 75}, {227, 119, 194}, {127, 127, 127}};

typedef struct canvas {
    int w, h;
    unsigned char *px;
} canvas;

static void fill(canvas *c, int x0, int y0, int x1, int y1, rgb k)
{
    for (int y = y0 < 0 ? 0 : y0; y <= y1 && y < c->h; y++)
        for (int x = x0 < 0 ? 0 : x0; x <= x1 && x < c->w; x++) {
            unsigned char *p = c->px + 3 * ((size_t)y * c->w + x);
            p[0] = k.r, p[1] = k.g, p[2] = k.b;
        }
}

/* Text from (x, y) (top left) at scale s, at most max characters. */
static void text(canvas *c, int x, int y, const char *str, int s, rgb k, int max)
{
    for (int i = 0; str[i] && i < max; i++)
        for (int gy = 0; gy < NDX_FONT_CELL_H; gy++)
            for (int gx = 0; gx < NDX_FONT_W; gx++)
                if (ndx__font_pixel(str[i], gx, gy))
                    fill(c, x + (i * NDX_FONT_ADVANCE + gx) * s, y + gy * s,
                         x + (i * NDX_FONT_ADVANCE + gx) * s + s - 1, y + gy * s + s - 1, k);
}

/* Text wrapped at spaces into lines of at most cols characters, at most
 * lines lines (the last cut with "..."); returns the rows used. */
static int wrapped(canvas *c, int x, int y, const char *str, int s, rgb k, int cols, int lines)
{
    int used = 0;
    while (*str && used < lines) {
        int n = (int)strlen(str);
        if (n > cols) {
            n = cols;
            while (n > 0 && str[n] != ' ') n--;
            if (n == 0) n = cols;
        }
        char line[512];
        snprintf(line, sizeof line, "%.*s", n, str);
        if (used == lines - 1 && (int)strlen(str) > n && n >= 3) strcpy(line + n - 3, "...");
        if (c) text(c, x, y + used * (NDX_FONT_CELL_H + 2) * s, line, s, k, cols);
        used++;
        str += n;
        while (*str == ' ') str++;
    }
    return used;
}

static int canvas_new(canvas *c, int w, int h)
{
    c->w = w, c->h = h;
    c->px = malloc((size_t)w * h * 3);
    if (c->px) memset(c->px, 255, (size_t)w * h * 3);
    return c->px != NULL;
}

/* Banner, title; returns the next free row. */
static int heading(canvas *c, const rp_survey *s, const char *title)
{
    int y = 12;
    if (ndx__rp_any_simulated(s)) {
        fill(c, 0, 0, c->w - 1, 40, RED);
        text(c, 16, 9, "SIMULATED READERS - not expert answers", 3, WHITE, 200);
        y = 52;
    }
    text(c, 16, y, title, 3, BLACK, 200);
    return y + 40;
}

static void footer(canvas *c, const rp_survey *s, int y)
{
    char prov[2048];
    ndx__rp_provenance(s, prov, sizeof prov);
    fill(c, 0, y, c->w - 1, y, RULE);
    wrapped(c, 16, y + 8, prov, 2, GREY, (c->w - 32) / (2 * NDX_FONT_ADVANCE), 4);
}
static int footer_rows(const rp_survey *s, int w)
{
    char prov[2048];
    ndx__rp_provenance(s, prov, sizeof prov);
    return 16 + 22 * wrapped(NULL, 0, 0, prov, 2, BLACK, (w - 32) / (2 * NDX_FONT_ADVANCE), 4);
}

/* A strip PNG as RGB scaled (nearest) to height rows, at most maxw wide,
 * drawn at (x, y); 0 when it cannot be read (then a grey box is drawn). */
static int blit_strip(canvas *c, const char *path, int x, int y, int height, int maxw)
{
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    unsigned char *buf = NULL;
    int ok = png_image_begin_read_from_file(&im, path) && im.width > 0 && im.height > 0 &&
             (size_t)im.width * im.height <= ((size_t)1 << 26);
    if (ok) {
        im.format = PNG_FORMAT_RGB;
        buf = malloc(PNG_IMAGE_SIZE(im));
        ok = buf && png_image_finish_read(&im, NULL, buf, 0, NULL);
    }
    png_image_free(&im);
    if (!ok) {
        free(buf);
        fill(c, x, y, x + maxw / 2, y + height - 1, RULE);
        text(c, x + 8, y + height / 2 - 8, "no strip", 2, GREY, 20);
        return 0;
    }
    int w = (int)((double)im.width * height / im.height);
    if (w > maxw) w = maxw;
    for (int v = 0; v < height; v++)
        for (int u = 0; u < w; u++) {
            const size_t sx = (size_t)u * im.height / height, sy = (size_t)v * im.height / height;
            if (sx >= im.width) continue;
            const unsigned char *p = buf + 3 * (sy * im.width + sx);
            fill(c, x + u, y + v, x + u, y + v, (rgb){p[0], p[1], p[2]});
        }
    free(buf);
    return 1;
}

#define F4_W 1240
#define F4_TEXT 560
#define F4_ROW 100
#define F4_BAND 30

ndx_status ndx__rp_write_figure4(const char *dir, const rp_survey *s, const rp_analysis *a,
                            const rp_row *rows, int nrows, const char *const *strips, int per_cat)
{
    int bands = 0, shown = 0;
    for (int i = 0, run = 0; i < nrows; i++) {
        if (!a->cat[rows[i].cat].birads) continue;
        run = i > 0 && rows[i - 1].cat == rows[i].cat ? run + 1 : 0;
        bands += run == 0;
        shown += run < per_cat;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/figure4.png", dir);
    const int top = ndx__rp_any_simulated(s) ? 92 : 52;
    const int h = top + 10 + bands * F4_BAND + shown * F4_ROW + (nrows ? 0 : 40) + footer_rows(s, F4_W);
    canvas c;
    if (!canvas_new(&c, F4_W, h)) return ndx__fail(NDX_ERR_NOMEM, "%s: out of memory", path);
    int y = heading(&c, s, "Figure 4: units by BI-RADS category");
    if (!bands) text(&c, 16, y, "No unit was described with a BI-RADS term.", 2, GREY, 100);
    char buf[2048], line[2200];
    for (int i = 0, run = 0; i < nrows; i++) {
        const rp_row *r = &rows[i];
        if (!a->cat[r->cat].birads) continue;
        run = i > 0 && rows[i - 1].cat == r->cat ? run + 1 : 0;
        if (run == 0) {
            fill(&c, 0, y, F4_W - 1, y + F4_BAND - 6, BAND);
            text(&c, 16, y + 5, a->cat[r->cat].name, 2, BLACK, 95);
            y += F4_BAND;
        }
        if (run >= per_cat) continue;
        const rp_drow *d = ndx__rp_unit_row(s, r->unit);
        ndx__rp_unit_terms(s, a, r->unit, r->cat, buf, sizeof buf);
        const int cols = F4_TEXT / (2 * NDX_FONT_ADVANCE);
        int used = wrapped(&c, 16, y, buf, 2, BLACK, cols, 2);
        ndx__rp_common_words(s, a, r->unit, r->cat, 3, buf, sizeof buf);
        if (*buf) {
            snprintf(line, sizeof line, "words: %s", buf);
            used += wrapped(&c, 16, y + used * 22, line, 2, GREY, cols, 1);
        }
        snprintf(line, sizeof line, "%s / %s / unit %d - %d of %d readers", ndx__rp_unit_network(s, r->unit),
                 d->layer, d->unit, r->agreeing, a->readers[r->unit]);
        text(&c, 16, y + used * 22, line, 2, PALETTE[0], cols);
        char p[4200];
        snprintf(p, sizeof p, "%s/%s", dir, strips[r->unit] ? strips[r->unit] : "-");
        blit_strip(&c, p, F4_TEXT + 40, y, 72, F4_W - F4_TEXT - 56);
        y += F4_ROW;
        fill(&c, 16, y - 6, F4_W - 16, y - 6, RULE);
    }
    footer(&c, s, h - footer_rows(s, F4_W) + 4);
    ndx_status st = ndx_png_write8(path, c.px, c.w, c.h, 3);
    free(c.px);
    return st;
}

#define CV_W 1200
#define CV_LABEL 480
#define CV_BAR 20

ndx_status ndx__rp_write_coverage_png(const char *dir, const rp_survey *s, const rp_analysis *a)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/coverage.png", dir);
    rp_cov *cv;
    int ng;
    ndx_status st = ndx__rp_coverage(s, a, &cv, &ng);
    if (st) return st;
    /* measures: 4 fixed, then the BI-RADS categories some group has */
    const char *label[RP_MAX_CATS + 6];
    int cat_of[RP_MAX_CATS + 6], nm = 0, max = 1;
    static const char *const fixed[] = {"recognizable", "spurious (not recognizable)",
                                        "several entangled phenomena", "non-BI-RADS anatomy"};
    for (int k = 0; k < 4; k++) label[nm] = fixed[k], cat_of[nm++] = -1 - k;
    for (int c = 0; c < a->ncat; c++) {
        int any = 0;
        for (int g = 0; g < ng; g++) any |= cv[g].cat[c] > 0;
        if (a->cat[c].birads && any) label[nm] = a->cat[c].name, cat_of[nm++] = c;
    }
    for (int g = 0; g < ng; g++) max = cv[g].units > max ? cv[g].units : max;
    const int gpx = ng * CV_BAR + 12, top = ndx__rp_any_simulated(s) ? 92 : 52;
    const int legend = 24 * ((ng + 1) / 2), h = top + legend + 20 + nm * gpx + 30 + footer_rows(s, CV_W);
    canvas c;
    if (!canvas_new(&c, CV_W, h)) {
        free(cv);
        return ndx__fail(NDX_ERR_NOMEM, "%s: out of memory", path);
    }
    int y = heading(&c, s, "Coverage: units per measure (majority of readers)");
    char buf[200];
    for (int g = 0; g < ng; g++) {
        const int x = 16 + (g % 2) * 580, yy = y + 24 * (g / 2);
        fill(&c, x, yy, x + 14, yy + 14, PALETTE[g % 8]);
        snprintf(buf, sizeof buf, "%s / %s (%d units)", cv[g].network, cv[g].layer, cv[g].units);
        text(&c, x + 22, yy + 1, buf, 2, BLACK, 45);
    }
    y += legend + 10;
    const int x0 = CV_LABEL, x1 = CV_W - 60;
    for (int m = 0; m < nm; m++, y += gpx) {
        wrapped(&c, 16, y + 1, label[m], 2, BLACK, (CV_LABEL - 24) / (2 * NDX_FONT_ADVANCE), 1);
        for (int g = 0; g < ng; g++) {
            const int k = cat_of[m];
            const int v = k >= 0 ? cv[g].cat[k] : k == -1 ? cv[g].recognizable : k == -2 ? cv[g].spurious
                          : k == -3 ? cv[g].entangled : cv[g].anatomy;
            const int len = (int)((double)v / max * (x1 - x0));
            const int yy = y + g * CV_BAR;
            fill(&c, x0, yy, x0 + len, yy + CV_BAR - 4, PALETTE[g % 8]);
            snprintf(buf, sizeof buf, "%d", v);
            text(&c, x0 + len + 6, yy + 1, buf, 2, BLACK, 10);
        }
    }
    fill(&c, x0, top + legend + 20, x0, y, BLACK);
    snprintf(buf, sizeof buf, "units (0..%d)", max);
    text(&c, x0, y + 6, buf, 2, GREY, 40);
    footer(&c, s, h - footer_rows(s, CV_W) + 4);
    free(cv);
    st = ndx_png_write8(path, c.px, c.w, c.h, 3);
    free(c.px);
    return st;
}

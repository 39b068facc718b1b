/* survey_fixture DIR [UNITS]: a survey database for the browser tests and
 * the durability test, made without a trained model: DIR/survey.sqlite
 * with one set of UNITS units (default 6), 32 patches each, drawn images
 * (a textured patch with a bright blob, the highlight overlay dimming
 * outside the blob, a lesion outline ring, a whole "mammogram" with the
 * blob), and readers reader-a, reader-b and admin-c.  Prints one JSON line:
 *   {"db": "...", "tokens": ["...", "...", "..."], "units": [ids...]} */
#include <math.h>

#include "survey_client.h"

#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>

#define T 224      /* tile side */
#define MW 400     /* mammogram */
#define MH 640

static uint64_t seed = 12345;

static double rnd(void)
{
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(seed >> 11) / 9007199254740992.0;
}

static int put(ndx__survey_db *db, const char *kind, const unsigned char *px, int w, int h,
               int ch, int64_t *id)
{
    int n = 0;
    unsigned char *png = stbi_write_png_to_mem(px, w * ch, w, h, ch, &n);
    if (!png) return -1;
    ndx_status st = ndx__survey_image_add(db, kind, png, (size_t)n, w, h, id);
    STBIW_FREE(png);
    return st ? -1 : 0;
}

static int images(ndx__survey_db *db, int i, int k, int64_t ids[4])
{
    static unsigned char tile[T * T], hl[T * T * 2], ol[T * T * 4], mam[MW * MH];
    double cx = T * (0.3 + 0.4 * rnd()), cy = T * (0.3 + 0.4 * rnd());
    double r = T * (0.08 + 0.05 * (i % 3) + 0.04 * rnd());
    for (int y = 0; y < T; y++)
        for (int x = 0; x < T; x++) {
            double d = hypot(x - cx, y - cy) / r;
            double v = 70 + 40 * sin(x * 0.07 + k) * cos(y * 0.05 + i) + 25 * rnd();
            if (d < 1) v += 120 * (1 - d * d);
            tile[y * T + x] = (unsigned char)fmin(255, fmax(0, v));
            unsigned char *h = &hl[2 * (y * T + x)];
            h[0] = 0;
            h[1] = d < 1.4 ? 0 : 150;
            unsigned char *o = &ol[4 * (y * T + x)];
            int ring = fabs(d - 1.1) < 0.06;
            o[0] = 255, o[1] = 60, o[2] = 40, o[3] = ring && (k % 3 == 0) ? 255 : 0;
        }
    static int64_t mammogram;   /* one whole image, shared */
    ids[3] = mammogram;
    for (int y = 0; y < MH && !mammogram; y++)
        for (int x = 0; x < MW; x++) {
            double e = hypot(x / (0.9 * MW), (y - MH / 2.0) / (0.45 * MH));
            double v = e < 1 ? 150 - 60 * e + 20 * sin(x * 0.05) * sin(y * 0.04) : 5;
            mam[y * MW + x] = (unsigned char)fmin(255, fmax(0, v));
        }
    return put(db, "tile", tile, T, T, 1, &ids[0]) || put(db, "highlight", hl, T, T, 2, &ids[1]) ||
           put(db, "outline", ol, T, T, 4, &ids[2]) ||
           (!mammogram && put(db, "mammogram", mam, MW, MH, 1, &mammogram)) ||
           !(ids[3] = mammogram);
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: survey_fixture DIR [UNITS]\n");
        return 2;
    }
    int units = argc == 3 ? atoi(argv[2]) : 6;
    if (units < 1 || units > 64) {
        fprintf(stderr, "survey_fixture: UNITS must be 1..64\n");
        return 2;
    }
    static sc_survey s;
    snprintf(s.dir, sizeof s.dir, "%s", argv[1]);
    if (sc_make_survey_with(&s, units, 0, 0, images)) {
        fprintf(stderr, "survey_fixture: %s\n", ndx_last_error());
        return 1;
    }
    printf("{\"db\": \"%s\", \"tokens\": [\"%s\", \"%s\", \"%s\"], \"units\": [", s.db, s.token[0],
           s.token[1], s.token[2]);
    for (int i = 0; i < units; i++) printf("%s%lld", i ? ", " : "", (long long)s.unit[i]);
    printf("]}\n");
    return 0;
}

/* Shared by the survey's Check suites (check_survey.c, check_survey_export.c):
 * running the netdx beside the suite, reading files, and the fixture: phantom
 * data (netdx synth, netdx patches), a random-init `tiny` and its real
 * dissection (top 32), and a crafted dissection whose positive fractions are
 * known (units 0..5 have only positive top patches, the others none) and
 * whose 4 x 4 maps peak at (1, 1) and fall to 0.05 of the peak at every
 * third cell (so the highlight dims part of each tile).
 * Header-only (static functions); include once per program. */
#ifndef NDX_SURVEY_FIXTURE_H
#define NDX_SURVEY_FIXTURE_H

#include <cjson/cJSON.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../src/survey/survey.h"
#include "netdx.h"
#include "netdx_dissect.h"
#include "netdx_nn.h"
#include "netdx_survey.h"
#include "testutil.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wunused-function"
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#include <stb/stb_image.h>
#pragma GCC diagnostic pop
/* stb declares every loader static; only the PNG one is used */
#pragma GCC diagnostic ignored "-Wunused-function"

static char bin[1024], dir[256];

static inline int run(const char *fmt, ...)
{
    char args[3000], cmd[4400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "NETDX_THREADS=2 %s %s > %s/out 2>&1", bin, args, dir);
    const int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static inline int output_has(const char *what)
{
    char p[400];
    snprintf(p, sizeof p, "%s/out", dir);
    char *s = tu_slurp(p, NULL);
    const int has = s && strstr(s, what);
    if (!has) fprintf(stderr, "output lacks '%s':\n%s\n", what, s ? s : "(none)");
    free(s);
    return has;
}

static inline int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* No file in dir whose name starts with prefix (leftover temporaries). */
static inline int no_leftovers(const char *prefix)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls %s | grep -q '^%s'", dir, prefix);
    return system(cmd) != 0;
}

static inline void path_of(char *buf, size_t n, const char *name) { snprintf(buf, n, "%s/%s", dir, name); }

/* ---- fixtures: phantom data, a crafted and a real dissection --------------------------- */
#define CRAFT_UNITS 20
#define CRAFT_CANCER 6    /* units 0..5: top-8 all positive; the others all negative */

static inline void craft_dissection(void)
{
    ndx_patch_index ix = {0};
    char p[400];
    path_of(p, sizeof p, "data");
    ck_assert_msg(ndx_patches_read(p, &ix) == NDX_OK, "%s", ndx_last_error());
    const int N = 40;
    ck_assert_int_ge((int)ix.n, N);
    ndx_patches_free(&ix);
    ndx_dissect_config cfg = {.layer = "crafted.1", .units = CRAFT_UNITS, .h = 4, .w = 4, .topk = 8,
                              .mode = NDX_THRESHOLD_RELATIVE};
    ndx_dissect *d;
    ck_assert_msg(ndx_dissect_new(&cfg, &d) == NDX_OK, "%s", ndx_last_error());
    float *maps = malloc((size_t)N * CRAFT_UNITS * 16 * sizeof *maps);
    int64_t ids[40];
    uint8_t labels[40];
    for (int i = 0; i < N; i++) {
        ids[i] = i, labels[i] = i % 2 == 0;
        for (int u = 0; u < CRAFT_UNITS; u++) {
            const int high = u < CRAFT_CANCER ? labels[i] : !labels[i];
            for (int k = 0; k < 16; k++)
                maps[((size_t)i * CRAFT_UNITS + u) * 16 + k] =
                    (high ? 5.0f + 0.01f * i : 0.5f) * (k == 5 ? 1 : k % 3 == 0 ? 0.05f : 0.5f);
        }
    }
    ndx_dissect_batch b = {.n = N, .maps = maps, .ids = ids, .labels = labels};
    ck_assert_msg(ndx_dissect_add(d, &b, NDX_DISSECT_STATS) == NDX_OK, "%s", ndx_last_error());
    ck_assert_int_eq(ndx_dissect_set_thresholds(d, NULL), NDX_OK);
    path_of(p, sizeof p, "craft");
    const ndx_dissect *layers[1] = {d};
    ndx_dissect_output out = {0};
    ck_assert_msg(ndx_dissect_write(p, layers, 1, &out) == NDX_OK, "%s", ndx_last_error());
    path_of(p, sizeof p, "craft/crafted.1.dstate");
    ck_assert_msg(ndx_dissect_save(d, p) == NDX_OK, "%s", ndx_last_error());
    ndx_dissect_free(d);
    free(maps);
}

static inline void setup(void)
{
    strcpy(dir, "/tmp/ndx_check_survey_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_int_eq(run("synth --out %s/data --patients 6 --seed 3 --pixel-um 400 --normal-frac 0", dir), 0);
    ck_assert_int_eq(run("patches --data %s/data", dir), 0);
    ndx_net *net = NULL;
    ck_assert_int_eq(ndx_zoo_build("tiny", 2, 32, 5, &net), NDX_OK);
    char p[400];
    path_of(p, sizeof p, "tiny.safetensors");
    ck_assert_msg(ndx_safetensors_save(net, p) == NDX_OK, "%s", ndx_last_error());
    ndx_net_free(net);
    ck_assert_int_eq(run("dissect --model %s/tiny.safetensors --data %s/data --split train --layer features.17 "
                         "--topk 32 --images 0 --out %s/real", dir, dir, dir), 0);
    craft_dissection();
}

static inline void teardown(void)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", dir);
}

/* A fresh survey over the crafted dissection: units, share, seed, repeats. */
static inline void init_crafted(const char *name, int units, double share, uint64_t seed, int repeats,
                         ndx_survey_init_stats *st)
{
    char db[400], craft[400], data[400];
    path_of(db, sizeof db, name);
    path_of(craft, sizeof craft, "craft");
    path_of(data, sizeof data, "data");
    remove(db);
    const char *dirs[1] = {craft};
    ndx_survey_init_opts o;
    ndx_survey_init_defaults(&o);
    o.db = db, o.dissections = dirs, o.ndissections = 1, o.data_dir = data;
    o.units = units, o.cancer_share = share, o.seed = seed, o.repeats = repeats;
    ck_assert_msg(ndx_survey_init(&o, st) == NDX_OK, "%s", ndx_last_error());
}

static ndx__survey_db *open_db(const char *name)
{
    char p[400];
    path_of(p, sizeof p, name);
    ndx__survey_db *db;
    ck_assert_msg(ndx__survey_open(&db, p, 0, 0) == NDX_OK, "%s", ndx_last_error());
    return db;
}

/* The units (channel numbers) of the first set, repeats excluded, as a bit set. */
static inline uint64_t picked_units(ndx__survey_db *db, int *n, int *repeats)
{
    ndx__survey_set *sets;
    int ns, nu;
    ck_assert_int_eq(ndx__survey_sets(db, &sets, &ns), NDX_OK);
    ck_assert_int_eq(ns, 1);
    ndx__survey_unit *u;
    ck_assert_int_eq(ndx__survey_units(db, sets[0].id, 0, 0, &u, &nu), NDX_OK);
    uint64_t bits = 0;
    *n = 0, *repeats = 0;
    for (int i = 0; i < nu; i++) {
        ck_assert_int_eq(u[i].position, i);
        if (u[i].repeat_of) {
            (*repeats)++;
            continue;
        }
        ck_assert_int_lt(u[i].unit, 64);
        ck_assert_msg(!(bits >> u[i].unit & 1), "unit %d picked twice", u[i].unit);
        bits |= 1ull << u[i].unit;
        (*n)++;
    }
    free(u), free(sets);
    return bits;
}

static inline void hex(const uint8_t *h, char *out)
{
    for (int i = 0; i < 32; i++) sprintf(out + 2 * i, "%02x", h[i]);
}

/* Runs the suite's tests with the fixture; main of each suite. */
static inline int survey_suite(char **argv, const char *name, void (*add)(TCase *tc))
{
    tu_netdx_path(argv[0], bin, sizeof bin);
    Suite *s = suite_create(name);
    TCase *tc = tcase_create(name);
    tcase_set_timeout(tc, 300);
    tcase_add_unchecked_fixture(tc, setup, teardown);
    add(tc);
    suite_add_tcase(s, tc);
    return tu_run(s);
}

#endif

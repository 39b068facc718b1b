/* netdx survey init: a survey over one or more dissection folders.
 *
 * Per dissected layer (each DIR/<layer>.dstate) one unit set: `units` units
 * picked as the study did, cancer_share of them from the units whose top
 * patches are mostly cancer-positive (positive fraction > 0.5, highest
 * first, ties by unit index), the rest drawn at random (seeded) among the
 * others; `repeats` of the picked units are stored again, flagged
 * repeat_of, after the others.  Units with no top patch are never picked.
 * Overview order (position): fewest negatives among the unit's top 32
 * first, ties by unit index.  Each unit keeps its top 32 patches with their
 * images (images.c).  The survey is built into a temporary file beside the
 * target and linked into place at the end: a failure leaves nothing. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "netdx_nn.h"
#include "netdx_survey.h"
#include "survey.h"
#include "../core/core.h"
#include "../dissect/dissect.h"
#include "../io/io.h"

#define MAX_STATES 64

void ndx_survey_init_defaults(ndx_survey_init_opts *o)
{
    memset(o, 0, sizeof *o);
    o->units = 45;
    o->cancer_share = 0.6;
    o->seed = 1;
}

static ndx_status check_opts(const ndx_survey_init_opts *o)
{
    if (!o->db || !*o->db) return ndx__fail(NDX_ERR_INVALID, "survey init: no --db given");
    if (o->ndissections < 1 || o->ndissections > 64 || !o->dissections)
        return ndx__fail(NDX_ERR_INVALID, "survey init: %d dissection folders, 1..64 allowed", o->ndissections);
    if (o->units < 0 || o->units > 4096)
        return ndx__fail(NDX_ERR_INVALID, "survey init: --units %d: 1..4096", o->units);
    if (o->cancer_share > 1 || isnan(o->cancer_share))
        return ndx__fail(NDX_ERR_INVALID, "survey init: --cancer-share %g: 0..1", o->cancer_share);
    if (o->repeats < 0 || o->repeats > 64)
        return ndx__fail(NDX_ERR_INVALID, "survey init: --repeats %d: 0..64", o->repeats);
    return NDX_OK;
}

/* The whole file, NUL-terminated; *n bytes. */
static ndx_status slurp(const char *path, char **out, size_t *n)
{
    return ndx__read_all(path, 1ull << 32, out, n);
}

/* What a dissection folder says about itself. */
typedef struct dissection {
    const char *dir;
    char hash[17];
    char network[64];
    char *data_dir;                 /* the patches' data folder (owned) */
    char states[MAX_STATES][256];   /* file names of the <layer>.dstate files, sorted */
    int nstates;
} dissection;

/* A path from units.json: as given when it exists, else relative to dir
 * (allocated; NULL when out of memory). */
static char *resolve(const char *dir, const char *p)
{
    struct stat sb;
    return p[0] == '/' || stat(p, &sb) == 0 ? ndx__strf("%s", p) : ndx__strf("%s/%s", dir, p);
}

static ndx_status json_string(const cJSON *root, const char *key, const char *file, const char **out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    *out = NULL;
    if (!v || cJSON_IsNull(v)) return NDX_OK;
    if (!cJSON_IsString(v) || !*v->valuestring)
        return ndx__fail(NDX_ERR_FORMAT, "%s: field \"%s\": not a non-empty string", file, key);
    *out = v->valuestring;
    return NDX_OK;
}

/* network: the option, units.json "network", the arch in the model's
 * metadata (option or units.json "model"), else "unknown". */
static ndx_status read_units_json(dissection *ds, const ndx_survey_init_opts *o)
{
    char *path = ndx__strf("%s/units.json", ds->dir), *text;
    size_t n;
    ndx_status s = path ? slurp(path, &text, &n) : NDX_ERR_NOMEM;
    if (s) {
        free(path);
        return s;
    }
    cJSON *root = cJSON_ParseWithLength(text, n);
    free(text);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        s = ndx__fail(NDX_ERR_FORMAT, "%s: not a JSON object", path);
        free(path);
        return s;
    }
    const char *net = NULL, *model = NULL, *data = NULL, *data2 = NULL;
    if (!(s = json_string(root, "network", path, &net)) && !(s = json_string(root, "model", path, &model)) &&
        !(s = json_string(root, "data_dir", path, &data)))
        s = json_string(root, "data", path, &data2);
    if (!s) {
        char *mpath = o->model ? ndx__strf("%s", o->model) : model ? resolve(ds->dir, model) : NULL;
        snprintf(ds->network, sizeof ds->network, "%s", o->network ? o->network : net ? net : "unknown");
        if ((o->model || model) && !mpath) s = NDX_ERR_NOMEM;
        else if (!o->network && !net && mpath) {
            s = ndx_safetensors_meta(mpath, ds->network, sizeof ds->network, NULL, NULL);
            if (!s && !ds->network[0]) snprintf(ds->network, sizeof ds->network, "unknown");
        }
        free(mpath);
    }
    if (!s) {
        if (o->data_dir) ds->data_dir = ndx__strf("%s", o->data_dir);
        else if (data || data2) ds->data_dir = resolve(ds->dir, data ? data : data2);
        else s = ndx__fail(NDX_ERR_INVALID, "%s: no \"data_dir\" field: give the patches' data dir with --data", path);
        if (!s && !ds->data_dir) s = NDX_ERR_NOMEM;
    }
    cJSON_Delete(root);
    free(path);
    return s;
}

static int by_name(const void *a, const void *b) { return strcmp(a, b); }

static ndx_status read_dissection(dissection *ds, const ndx_survey_init_opts *o)
{
    DIR *dh = opendir(ds->dir);
    if (!dh) return ndx__fail(NDX_ERR_IO, "dissection folder %s: %s", ds->dir, strerror(errno));
    ds->nstates = 0;
    for (struct dirent *e; (e = readdir(dh));) {
        const size_t len = strlen(e->d_name);
        if (len <= 7 || strcmp(e->d_name + len - 7, ".dstate") || len >= sizeof ds->states[0]) continue;
        if (ds->nstates == MAX_STATES) {
            closedir(dh);
            return ndx__fail(NDX_ERR_INVALID, "dissection folder %s: more than %d states", ds->dir, MAX_STATES);
        }
        memcpy(ds->states[ds->nstates++], e->d_name, len + 1);
    }
    closedir(dh);
    if (!ds->nstates)
        return ndx__fail(NDX_ERR_INVALID, "dissection folder %s: no <layer>.dstate file (not a `netdx dissect --out`"
                         " folder?)", ds->dir);
    qsort(ds->states, (size_t)ds->nstates, sizeof ds->states[0], by_name);
    char *path = ndx__strf("%s/units.csv", ds->dir), *text;
    size_t n;
    ndx_status s = path ? slurp(path, &text, &n) : NDX_ERR_NOMEM;
    free(path);
    if (s) return s;
    snprintf(ds->hash, sizeof ds->hash, "%016llx", (unsigned long long)ndx_hash64(text, n, 0));
    free(text);
    return read_units_json(ds, o);
}

/* ---- picking units ------------------------------------------------------------------ */
typedef struct pick {
    int unit;
    double pos;       /* positive fraction of its top-k */
    int negatives;    /* among its first NDX__SURVEY_PATCHES */
} pick;

static int by_pos_desc(const void *a, const void *b)
{
    const pick *x = a, *y = b;
    if (x->pos != y->pos) return x->pos > y->pos ? -1 : 1;
    return x->unit - y->unit;
}

static int by_negatives(const void *a, const void *b)
{
    const pick *x = a, *y = b;
    if (x->negatives != y->negatives) return x->negatives - y->negatives;
    return x->unit - y->unit;
}

/* picks[0..*n) in overview order; *ncancer of them were picked as cancer units. */
static ndx_status pick_units(const ndx_dissect *d, const ndx_survey_init_opts *o, ndx_rng *rng, pick *picks,
                             int *n, int *ncancer)
{
    int U, k;
    ndx_dissect_dims(d, &U, NULL, NULL, &k, NULL);
    ndx_dissect_top *top = malloc((size_t)k * sizeof *top);
    pick *all = malloc((size_t)U * sizeof *all);
    if (!top || !all) {
        free(top), free(all);
        return ndx__fail(NDX_ERR_NOMEM, "survey init: out of memory picking units");
    }
    int m = 0;
    ndx_status s = NDX_OK;
    for (int u = 0; u < U && !s; u++) {
        ndx_dissect_unit info;
        int nt = 0;
        if ((s = ndx_dissect_unit_info(d, u, &info)) || (s = ndx_dissect_unit_top(d, u, top, &nt))) break;
        if (nt < 1) continue;
        int neg = 0;
        for (int j = 0; j < nt && j < NDX__SURVEY_PATCHES; j++) neg += !top[j].label;
        all[m++] = (pick){u, info.positive_fraction, neg};
    }
    free(top);
    const int want = (o->units ? o->units : 45) < m ? (o->units ? o->units : 45) : m;
    const double share = o->cancer_share < 0 ? 0.6 : o->cancer_share;
    if (!s) {
        qsort(all, (size_t)m, sizeof *all, by_pos_desc);
        int c = 0, quota = (int)lround(share * want);
        while (c < quota && c < m && all[c].pos > 0.5) c++;
        /* the rest: a seeded partial shuffle of the others */
        for (int i = c; i < want; i++) {
            const int j = i + (int)ndx_rng_below(rng, (uint64_t)(m - i));
            const pick t = all[i];
            all[i] = all[j], all[j] = t;
        }
        memcpy(picks, all, (size_t)want * sizeof *picks);
        qsort(picks, (size_t)want, sizeof *picks, by_negatives);
        *n = want, *ncancer = c;
    }
    free(all);
    return s;
}

/* ---- storing a layer ----------------------------------------------------------------- */
/* Best IoU among the lesion kinds (not "malignant" / "all"). */
static void best_lesion(const ndx_dissect *d, const ndx_dissect_unit *info, ndx__survey_unit *su)
{
    int nm;
    ndx_dissect_dims(d, NULL, NULL, NULL, NULL, &nm);
    su->iou = 0, su->best_kind[0] = 0;
    for (int m = 0; m < nm; m++) {
        const char *name = ndx_dissect_mask_name(d, m);
        int lesion = 0;
        for (int k = 0; k < NDX_LESION_KINDS; k++) lesion |= !strcmp(name, ndx_lesion_kind_name(k));
        if (lesion && isfinite(info->iou[m]) && info->iou[m] > su->iou) {
            su->iou = info->iou[m];
            snprintf(su->best_kind, sizeof su->best_kind, "%s", name);
        }
    }
}

static ndx_status store_unit(ndx__survey_db *db, ndx__survey_imgs *im, const ndx_dissect *d, int align_corners,
                             ndx__survey_unit *su, ndx_dissect_top *top)
{
    int h, w, nt;
    ndx_dissect_dims(d, NULL, &h, &w, NULL, NULL);
    ndx_dissect_unit info;
    ndx_status s = ndx_dissect_unit_info(d, su->unit, &info);
    if (s || (s = ndx_dissect_unit_top(d, su->unit, top, &nt))) return s;
    best_lesion(d, &info, su);
    su->npatches = nt < NDX__SURVEY_PATCHES ? nt : NDX__SURVEY_PATCHES;
    su->positives = 0;
    const float *maps[NDX__SURVEY_PATCHES];
    int sizes[NDX__SURVEY_PATCHES];
    int64_t hl[NDX__SURVEY_PATCHES];
    for (int j = 0; j < su->npatches; j++) {
        ndx__survey_patch *p = &su->patches[j];
        if ((s = ndx__survey_imgs_patch(im, top[j].id, p, &sizes[j]))) return s;
        p->rank = j;
        p->score = top[j].score;
        p->label = top[j].label != 0;
        su->positives += p->label;
        maps[j] = top[j].map;
    }
    s = ndx__survey_imgs_highlights(im, su->npatches, maps, h, w, align_corners, top[0].score, sizes, hl);
    if (s) return s;
    for (int j = 0; j < su->npatches; j++) su->patches[j].highlight = hl[j];
    return ndx__survey_unit_add(db, su);
}

/* The tiles, outlines and mammograms of the picked units' top patches,
 * made in one parallel pass before the units are stored. */
static ndx_status prepare_images(ndx__survey_imgs *im, const ndx_dissect *d, const pick *picks, int n,
                                 ndx_dissect_top *top)
{
    int64_t *ids = malloc((size_t)(n > 0 ? n : 1) * NDX__SURVEY_PATCHES * sizeof *ids);
    if (!ids) return ndx__fail(NDX_ERR_NOMEM, "survey init: out of memory");
    ndx_status s = NDX_OK;
    int m = 0;
    for (int i = 0; i < n && !s; i++) {
        int nt;
        if ((s = ndx_dissect_unit_top(d, picks[i].unit, top, &nt))) break;
        for (int j = 0; j < nt && j < NDX__SURVEY_PATCHES; j++) ids[m++] = top[j].id;
    }
    if (!s) s = ndx__survey_imgs_prepare(im, ids, m);
    free(ids);
    return s;
}

/* The unit set of one state: picks, stores units and repeats. */
static ndx_status add_layer(ndx__survey_db *db, ndx__survey_imgs *im, const dissection *ds, const ndx_dissect *d,
                            const ndx_survey_init_opts *o, ndx_rng *rng, ndx_survey_init_stats *st)
{
    ndx__survey_set set = {0};
    snprintf(set.network, sizeof set.network, "%s", ds->network);
    snprintf(set.layer, sizeof set.layer, "%s", ndx_dissect_layer(d));
    snprintf(set.dissection, sizeof set.dissection, "%s", ds->dir);
    memcpy(set.hash, ds->hash, sizeof set.hash);
    ndx_status s = ndx__survey_set_add(db, &set);
    if (s) return s;
    int U, k, n = 0, ncancer = 0;
    ndx_dissect_dims(d, &U, NULL, NULL, &k, NULL);
    pick *picks = malloc((size_t)U * sizeof *picks);
    ndx_dissect_top *top = malloc((size_t)k * sizeof *top);
    ndx__survey_unit *su = malloc(sizeof *su);
    int64_t *ids = malloc((size_t)U * sizeof *ids);
    if (!picks || !top || !su || !ids) s = ndx__fail(NDX_ERR_NOMEM, "survey init: out of memory");
    if (!s) s = pick_units(d, o, rng, picks, &n, &ncancer);
    const int reps = o->repeats < n ? o->repeats : n;
    const int total = n + reps;
    if (!s) s = prepare_images(im, d, picks, n, top);
    if (!s && o->progress) o->progress(o->progress_ctx, 0, total);
    for (int i = 0; i < total && !s; i++) {
        memset(su, 0, sizeof *su);
        su->set_id = set.id, su->position = i;
        int src = i;
        if (i >= n) {   /* a repeat: a seeded draw among the picked units not repeated yet */
            src = (i - n) + (int)ndx_rng_below(rng, (uint64_t)(n - (i - n)));
            const pick t = picks[i - n];
            picks[i - n] = picks[src], picks[src] = t;
            const int64_t ti = ids[i - n];
            ids[i - n] = ids[src], ids[src] = ti;
            src = i - n;
            su->repeat_of = ids[src];
        }
        su->unit = picks[src].unit;
        s = store_unit(db, im, d, d->align_corners, su, top);
        if (!s && i < n) ids[i] = su->id;
        if (!s && o->progress) o->progress(o->progress_ctx, i + 1, total);
    }
    if (!s && st) st->sets++, st->units += total, st->repeats += reps, st->cancer_units += ncancer;
    free(picks), free(top), free(su), free(ids);
    return s;
}

/* ---- the whole survey ------------------------------------------------------------------ */
typedef struct source {
    ndx_patch_index ix;       /* ix.dir: the data folder */
    ndx__survey_imgs *im;
    int open;
} source;

static void source_close(source *src)
{
    if (!src->open) return;
    ndx__survey_imgs_free(src->im);
    ndx_patches_free(&src->ix);
    src->open = 0;
}

/* The patch index and image maker of dir, reused while dir stays the same. */
static ndx_status source_for(source *src, ndx__survey_db *db, const char *dir, ndx_survey_init_stats *st)
{
    if (src->open && !strcmp(src->ix.dir, dir)) return NDX_OK;
    if (src->open && st) {
        long n;
        int64_t b;
        ndx__survey_imgs_stats(src->im, &n, &b);
        st->images += n, st->image_bytes += b;
    }
    source_close(src);
    memset(&src->ix, 0, sizeof src->ix);
    ndx_status s = ndx_patches_read(dir, &src->ix);
    if (s) return s;
    if ((s = ndx__survey_imgs_new(&src->im, db, &src->ix))) {
        ndx_patches_free(&src->ix);
        return s;
    }
    src->open = 1;
    return NDX_OK;
}

static void free_dissections(dissection *ds, int n)
{
    for (int i = 0; i < n; i++) free(ds[i].data_dir);
    free(ds);
}

static ndx_status build(ndx__survey_db *db, const ndx_survey_init_opts *o, ndx_survey_init_stats *st)
{
    dissection *ds = calloc((size_t)o->ndissections, sizeof *ds);
    if (!ds) return ndx__fail(NDX_ERR_NOMEM, "survey init: out of memory");
    ndx_status s = NDX_OK;
    for (int i = 0; i < o->ndissections && !s; i++) {
        ds[i].dir = o->dissections[i];
        s = read_dissection(&ds[i], o);
    }
    ndx__survey_meta meta = {.hide_ids = o->hide_ids, .hide_labels = o->hide_labels};
    if (!s) s = ndx__survey_set_meta(db, &meta);
    if (!s) s = ndx__survey_begin(db);
    if (s) {
        free_dissections(ds, o->ndissections);
        return s;
    }
    ndx_rng rng;
    ndx_rng_seed(&rng, o->seed);
    source src = {0};
    for (int i = 0; i < o->ndissections && !s; i++) {
        if ((s = source_for(&src, db, ds[i].data_dir, st))) break;
        for (int j = 0; j < ds[i].nstates && !s; j++) {
            char *path = ndx__strf("%s/%s", ds[i].dir, ds[i].states[j]);
            ndx_dissect *d = NULL;
            if (!path) s = NDX_ERR_NOMEM;
            else if (!(s = ndx_dissect_load(path, &d))) s = add_layer(db, src.im, &ds[i], d, o, &rng, st);
            ndx_dissect_free(d);
            free(path);
        }
    }
    if (!s && src.open && st) {
        long n;
        int64_t b;
        ndx__survey_imgs_stats(src.im, &n, &b);
        st->images += n, st->image_bytes += b;
    }
    source_close(&src);
    free_dissections(ds, o->ndissections);
    if (s) {
        ndx__survey_rollback(db);
        return s;
    }
    return ndx__survey_commit(db);
}

/* tmp into place unless path exists (link is exclusive, rename is not). */
static ndx_status place(const char *tmp, const char *path)
{
    if (link(tmp, path) == 0) {
        unlink(tmp);
        return NDX_OK;
    }
    if (errno == EEXIST)
        return ndx__fail(NDX_ERR_IO, "%s: exists already (a survey is never overwritten)", path);
    struct stat sb;
    if (stat(path, &sb) == 0) return ndx__fail(NDX_ERR_IO, "%s: exists already", path);
    if (rename(tmp, path) != 0)
        return ndx__fail(NDX_ERR_IO, "%s: cannot rename into place: %s", path, strerror(errno));
    return NDX_OK;
}

ndx_status ndx_survey_init(const ndx_survey_init_opts *o, ndx_survey_init_stats *st)
{
    if (st) memset(st, 0, sizeof *st);
    ndx_status s = check_opts(o);
    if (s) return s;
    struct stat sb;
    if (stat(o->db, &sb) == 0)
        return ndx__fail(NDX_ERR_IO, "%s: exists already (a survey is never overwritten)", o->db);
    char tmp[1100];
    const int tl = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", o->db, (long)getpid());
    if (tl < 0 || (size_t)tl >= sizeof tmp) return ndx__fail(NDX_ERR_INVALID, "%s: path too long", o->db);
    remove(tmp);
    ndx__survey_db *db;
    if ((s = ndx__survey_open(&db, tmp, 1, 0))) return s;
    s = build(db, o, st);
    ndx__survey_close(db);
    if (!s) s = place(tmp, o->db);
    if (s) {
        char side[1200];
        remove(tmp);
        snprintf(side, sizeof side, "%s-wal", tmp);
        remove(side);
        snprintf(side, sizeof side, "%s-shm", tmp);
        remove(side);
    }
    return s;
}

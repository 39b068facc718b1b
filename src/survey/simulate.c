/* netdx survey simulate: simulated readers for the demo and the tests.
 *
 * Each simulated reader (flagged simulated in the store and in every export
 * line) answers every survey unit, repeats included, from the dissection's
 * ground truth: the unit's best-IoU lesion kind (when that IoU >= 0.04, the
 * Network Dissection bar) and the positive fraction of its top patches.
 *   mass          finding.mass + a margin (spiculated/indistinct when the
 *                 unit is mostly positive, circumscribed/obscured otherwise)
 *   calcification finding.calcifications + a morphology (fine pleomorphic /
 *                 fine-linear branching, or round / coarse) + sometimes grouped
 *   vessel        calc_benign.vascular
 *   distortion    finding.architectural_distortion
 *   no lesion     anat.texture (or "no" and nothing)
 * Disagreement, seeded per reader: Q1 is flipped, a descriptor swapped for
 * its neighbour, Q2 moved one step, a second phenomenon added (breast edge,
 * pectoral muscle, dense tissue), the free text drawn from several phrasings;
 * 1-3 revisions per unit, the earlier ones partial.  Answers are saved with
 * ndx__survey_answer_save, the server's own save path. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netdx_survey.h"
#include "survey.h"
#include "../core/core.h"

typedef struct reader_sim {
    ndx_rng rng;
    double flip, neighbour, extra;   /* per-reader disagreement rates */
} reader_sim;

static int chance(reader_sim *r, double p) { return ndx_rng_uniform(&r->rng) < p; }
static const char *pick(reader_sim *r, const char *const *v, int n) { return v[ndx_rng_below(&r->rng, (uint64_t)n)]; }

static void add_ids(cJSON *arr, const char *a, const char *b, const char *c)
{
    const char *ids[3] = {a, b, c};
    for (int i = 0; i < 3; i++)
        if (ids[i]) cJSON_AddItemToArray(arr, cJSON_CreateString(ids[i]));
}

/* The main phenomenon of a unit whose lesion kind is `kind` ("" = none). */
static cJSON *main_phenomenon(reader_sim *r, const char *kind, int malignant)
{
    cJSON *p = cJSON_CreateObject();
    cJSON *ids = cJSON_AddArrayToObject(p, "descriptors");
    const int nb = chance(r, r->neighbour);
    const char *text;
    if (!strcmp(kind, "mass")) {
        static const char *const mal[] = {"mass_margin.spiculated", "mass_margin.indistinct"};
        static const char *const ben[] = {"mass_margin.circumscribed", "mass_margin.obscured"};
        static const char *const tm[] = {"spiculated mass", "irregular mass with spicules", "ill-defined mass"};
        static const char *const tb[] = {"round circumscribed mass", "oval mass, smooth edge", "well-defined lump"};
        add_ids(ids, "finding.mass", (malignant ? mal : ben)[nb], chance(r, 0.3) ? "mass_shape.irregular" : NULL);
        text = malignant ? pick(r, tm, 3) : pick(r, tb, 3);
    } else if (!strcmp(kind, "calcification")) {
        static const char *const mal[] = {"calc_susp.fine_pleomorphic", "calc_susp.fine_linear_branching"};
        static const char *const ben[] = {"calc_benign.round", "calc_benign.coarse_popcorn"};
        static const char *const tm[] = {"fine pleomorphic calcs", "clustered microcalcifications",
                                         "linear branching calcifications"};
        static const char *const tb[] = {"punctate calcifications", "coarse benign calcs", "round calcs"};
        add_ids(ids, "finding.calcifications", (malignant ? mal : ben)[nb],
                chance(r, 0.4) ? "calc_dist.grouped" : NULL);
        text = malignant ? pick(r, tm, 3) : pick(r, tb, 3);
    } else if (!strcmp(kind, "vessel")) {
        static const char *const t[] = {"vascular calcifications", "tram-track vessel calcs", "calcified vessel"};
        add_ids(ids, nb ? "anat.vessel" : "calc_benign.vascular", NULL, NULL);
        text = pick(r, t, 3);
    } else if (!strcmp(kind, "distortion")) {
        static const char *const t[] = {"architectural distortion", "radiating lines, no central mass",
                                        "distorted parenchyma"};
        add_ids(ids, nb ? "mass_margin.spiculated" : "finding.architectural_distortion", NULL, NULL);
        text = pick(r, t, 3);
    } else {
        static const char *const t[] = {"normal dense tissue", "fibroglandular texture", "edges of tissue"};
        add_ids(ids, nb ? "anat.fat" : "anat.texture", NULL, NULL);
        text = pick(r, t, 3);
    }
    cJSON_AddStringToObject(p, "text", chance(r, 0.1) ? "" : text);
    cJSON_AddStringToObject(p, "association", kind[0] ? (malignant ? "malignant" : "benign") : "none");
    cJSON_AddNumberToObject(p, "confidence", (double)(kind[0] ? 3 + ndx_rng_below(&r->rng, 3) : 1 + ndx_rng_below(&r->rng, 3)));
    return p;
}

static cJSON *extra_phenomenon(reader_sim *r)
{
    static const char *const ids[] = {"anat.breast_border", "anat.pectoral_muscle", "anat.texture", NULL};
    static const char *const text[] = {"skin line / breast edge", "pectoral muscle", "dense tissue",
                                       "something odd, unsure"};
    const int k = (int)ndx_rng_below(&r->rng, 4);
    cJSON *p = cJSON_CreateObject();
    cJSON *a = cJSON_AddArrayToObject(p, "descriptors");
    if (ids[k]) cJSON_AddItemToArray(a, cJSON_CreateString(ids[k]));
    cJSON_AddStringToObject(p, "text", text[k]);
    cJSON_AddStringToObject(p, "association", "none");
    cJSON_AddNumberToObject(p, "confidence", (double)(1 + ndx_rng_below(&r->rng, 4)));
    return p;
}

/* One answer; partial: only Q1 and Q2 (an early revision). */
static char *answer(reader_sim *r, const ndx__survey_unit *u, int partial)
{
    static const char *const assoc[] = {"none", "benign", "both", "malignant"};
    const double pos = u->npatches ? (double)u->positives / u->npatches : 0;
    const char *kind = u->iou >= 0.04 ? u->best_kind : "";
    int rec = kind[0] ? 1 : pos > 0.7 ? 2 : 0;   /* 0 no, 1 yes, 2 unsure */
    if (chance(r, r->flip)) rec = rec == 1 ? (chance(r, 0.5) ? 0 : 2) : 1;
    int a = pos >= 0.75 ? 3 : pos <= 0.25 ? (kind[0] ? 1 : 0) : 2;
    if (chance(r, r->neighbour)) a = a == 0 ? 1 : a == 3 ? 2 : a + (chance(r, 0.5) ? 1 : -1);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "recognizable", rec == 1 ? "yes" : rec == 2 ? "unsure" : "no");
    cJSON_AddStringToObject(o, "association", rec == 2 && chance(r, 0.5) ? "unsure" : assoc[a]);
    if (!partial) {
        cJSON *ph = cJSON_AddArrayToObject(o, "phenomena");
        if (rec != 0 || chance(r, 0.5)) cJSON_AddItemToArray(ph, main_phenomenon(r, kind, pos >= 0.5));
        if (rec != 0 && chance(r, r->extra)) cJSON_AddItemToArray(ph, extra_phenomenon(r));
        const int np = cJSON_GetArraySize(ph);
        if (np) cJSON_AddStringToObject(o, "multiplicity", np > 1 ? "multiple" : "single");
        cJSON_AddStringToObject(o, "comment", chance(r, 0.1) ? "simulated reader: highlight off the lesion" : "");
    }
    char *t = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return t;
}

static ndx_status answer_all(ndx__survey_db *db, int64_t reader_id, reader_sim *r, const ndx__survey_set *sets,
                             int nsets)
{
    ndx_status s = NDX_OK;
    for (int i = 0; i < nsets && !s; i++) {
        ndx__survey_unit *u;
        int n;
        if ((s = ndx__survey_units(db, sets[i].id, NDX__SURVEY_PATCHES, 0, &u, &n))) break;
        for (int j = 0; j < n && !s; j++) {
            const double roll = ndx_rng_uniform(&r->rng);
            const int revs = roll < 0.6 ? 1 : roll < 0.9 ? 2 : 3;
            for (int v = 0; v < revs && !s; v++) {
                char *t = answer(r, &u[j], v + 1 < revs && v == 0);
                if (!t) {
                    s = ndx__fail(NDX_ERR_NOMEM, "simulate: out of memory");
                    break;
                }
                const double secs = (double)(50 + ndx_rng_below(&r->rng, 1150)) / 10;   /* 5.0 .. 119.9 s */
                s = ndx__survey_answer_save(db, reader_id, u[j].id, t, strlen(t), secs, NULL);
                cJSON_free(t);
            }
        }
        free(u);
    }
    return s;
}

ndx_status ndx_survey_simulate(const char *db, int readers, uint64_t seed)
{
    if (readers < 1 || readers > 100)
        return ndx__fail(NDX_ERR_INVALID, "simulate: --readers %d: 1..100", readers);
    ndx__survey_db *d;
    ndx_status s = ndx__survey_open(&d, db, 0, 0);
    if (s) return s;
    ndx__survey_reader *have = NULL;
    ndx__survey_set *sets = NULL;
    int nhave = 0, nsets = 0;
    if (!(s = ndx__survey_reader_list(d, &have, &nhave))) s = ndx__survey_sets(d, &sets, &nsets);
    int next = 1;   /* sim-<next> after any simulated reader already there */
    for (int i = 0; i < nhave; i++) {
        int k;
        if (sscanf(have[i].name, "sim-%d", &k) == 1 && k >= next) next = k + 1;
    }
    for (int i = 0; i < readers && !s; i++) {
        char name[32], token[NDX__SURVEY_TOKEN_HEX + 1];
        snprintf(name, sizeof name, "sim-%d", next + i);
        int64_t id;
        if ((s = ndx__survey_reader_add(d, name, (next + i) % 3 == 0 ? "physicist" : "radiologist", 0, 1, token,
                                        &id)))
            break;
        reader_sim r;
        ndx_rng_seed(&r.rng, seed ^ (0x9e3779b97f4a7c15ull * (uint64_t)(next + i)));
        r.flip = 0.05 + 0.15 * ndx_rng_uniform(&r.rng);
        r.neighbour = 0.1 + 0.25 * ndx_rng_uniform(&r.rng);
        r.extra = 0.1 + 0.3 * ndx_rng_uniform(&r.rng);
        s = answer_all(d, id, &r, sets, nsets);
    }
    free(have), free(sets);
    ndx__survey_close(d);
    return s;
}

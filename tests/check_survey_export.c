/* The survey's simulate, export and CLI (src/survey, tools/cmd_survey.c):
 *   - init over a real dissection of phantom data through the CLI (images
 *     decode at 192..320 px), simulated readers, and every field of
 *     SURVEY_EXPORT.md parsed back with cJSON, counts against the store;
 *   - CSV quoting read back with the project's RFC 4180 reader;
 *   - the CLI's bad input: exit 1 or 2, the culprit named, nothing written,
 *     an existing survey never overwritten. */
#include "survey_fixture.h"

/* ---- the real dissection: init, simulate, export ---------------------------------------------- */
static const char *const FIELDS[] = {"format", "survey", "simulated", "reader", "reader_id", "role", "network",
                                     "layer", "unit", "dissection", "repeat", "revision", "revisions",
                                     "first_saved", "last_saved", "seconds_spent", "recognizable", "association",
                                     "multiplicity", "phenomena", "comment"};
#define NFIELDS 21

static int one_of(const cJSON *v, const char *const *set)
{
    if (cJSON_IsNull(v)) return 1;
    if (!cJSON_IsString(v)) return 0;
    for (; *set; set++)
        if (!strcmp(v->valuestring, *set)) return 1;
    return 0;
}

static int iso_time(const char *s)
{
    int y, mo, d, h, mi, se;
    char z;
    return strlen(s) == 20 && sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%c", &y, &mo, &d, &h, &mi, &se, &z) == 7 &&
           z == 'Z' && y >= 2020 && mo >= 1 && mo <= 12;
}

/* One export line against SURVEY_EXPORT.md. */
static void check_record(const cJSON *o, const char *hash, int history)
{
    static const char *const assoc[] = {"malignant", "benign", "both", "none", "unsure", NULL};
    static const char *const rec[] = {"yes", "no", "unsure", NULL};
    static const char *const mult[] = {"single", "multiple", NULL};
    static const char *const roles[] = {"radiologist", "physicist", "other", NULL};
    int i = 0;
    for (const cJSON *c = o->child; c; c = c->next, i++) {
        ck_assert_int_lt(i, NFIELDS);
        ck_assert_str_eq(c->string, FIELDS[i]);
    }
    ck_assert_int_eq(i, NFIELDS);
#define F(k) cJSON_GetObjectItemCaseSensitive(o, k)
    ck_assert_str_eq(F("format")->valuestring, "netdx-survey-answers/1");
    ck_assert_int_eq((int)strlen(F("survey")->valuestring), 32);
    ck_assert(cJSON_IsTrue(F("simulated")));
    ck_assert(cJSON_IsString(F("reader")));
    ck_assert(cJSON_IsNumber(F("reader_id")) && F("reader_id")->valuedouble >= 1);
    ck_assert(one_of(F("role"), roles) && !cJSON_IsNull(F("role")));
    ck_assert_str_eq(F("network")->valuestring, "tiny");
    ck_assert_str_eq(F("layer")->valuestring, "features.17");
    ck_assert(cJSON_IsNumber(F("unit")) && F("unit")->valuedouble >= 0 && F("unit")->valuedouble < 128);
    ck_assert_str_eq(F("dissection")->valuestring, hash);
    ck_assert(cJSON_IsBool(F("repeat")));
    const double rv = F("revision")->valuedouble, rvs = F("revisions")->valuedouble;
    ck_assert(rv >= 1 && rvs >= rv && rvs <= 3);
    if (!history) ck_assert(rv == rvs);
    ck_assert(iso_time(F("first_saved")->valuestring) && iso_time(F("last_saved")->valuestring));
    ck_assert(strcmp(F("first_saved")->valuestring, F("last_saved")->valuestring) <= 0);
    ck_assert(cJSON_IsNumber(F("seconds_spent")) && F("seconds_spent")->valuedouble >= 5 * rv);
    ck_assert(one_of(F("recognizable"), rec) && one_of(F("association"), assoc) && one_of(F("multiplicity"), mult));
    ck_assert(cJSON_IsArray(F("phenomena")) && cJSON_IsString(F("comment")));
    for (const cJSON *p = F("phenomena")->child; p; p = p->next) {
        ck_assert(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(p, "descriptors")));
        ck_assert(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(p, "text")));
        ck_assert(one_of(cJSON_GetObjectItemCaseSensitive(p, "association"), assoc));
        const cJSON *cf = cJSON_GetObjectItemCaseSensitive(p, "confidence");
        ck_assert(cJSON_IsNull(cf) || (cf->valuedouble >= 1 && cf->valuedouble <= 5));
    }
#undef F
}

/* Checks every line of an export; returns the lines. */
static int check_jsonl(const char *path, const char *hash, int history, int *descriptors)
{
    char *text = tu_slurp(path, NULL);
    ck_assert_ptr_nonnull(text);
    int lines = 0;
    for (char *line = text, *nl; *line; line = nl + 1) {
        nl = strchr(line, '\n');
        ck_assert_ptr_nonnull(nl);   /* '\n' ends every line */
        *nl = 0;
        cJSON *o = cJSON_Parse(line);
        ck_assert_msg(o != NULL, "line %d is not JSON", lines + 1);
        check_record(o, hash, history);
        for (const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "phenomena")->child; p; p = p->next)
            *descriptors += cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(p, "descriptors"));
        cJSON_Delete(o);
        lines++;
    }
    free(text);
    return lines;
}

/* A decoded image's pixel range (comp channels, channel 0). */
static void image_range(ndx__survey_db *d, int64_t id, int comp, int *w, int *h, int *lo, int *hi)
{
    unsigned char *png;
    size_t len;
    ck_assert_int_eq(ndx__survey_image(d, id, &png, &len, w, h), NDX_OK);
    int c, iw, ih;
    unsigned char *px = stbi_load_from_memory(png, (int)len, &iw, &ih, &c, comp);
    free(png);
    ck_assert_ptr_nonnull(px);
    ck_assert(iw == *w && ih == *h && c == comp);
    *lo = 255, *hi = 0;
    for (int q = 0; q < iw * ih; q++) {
        if (px[q * comp] < *lo) *lo = px[q * comp];
        if (px[q * comp] > *hi) *hi = px[q * comp];
    }
    stbi_image_free(px);
}

/* The images of every unit: tiles 192..320 px and windowed (a wide range of
 * gray, not a flat tile), highlights of the tile's size, lesion outlines exactly on the
 * patches that overlap a lesion, mammograms <= 800 px tall. */
static void check_real_images(void)
{
    ndx_patch_index ix = {0};
    char p[400];
    path_of(p, sizeof p, "data");
    ck_assert_int_eq(ndx_patches_read(p, &ix), NDX_OK);
    ndx__survey_db *d = open_db("real.sqlite");
    int outlines = 0;
    for (int64_t id = 1; id <= 14; id++) {
        ndx__survey_unit u;
        ck_assert_int_eq(ndx__survey_unit_get(d, id, 0, &u), NDX_OK);
        ck_assert_int_eq(u.npatches, 32);
        for (int j = 0; j < u.npatches; j++) {
            const ndx__survey_patch *pt = &u.patches[j];
            int w, h, hw, hh, mw, mh, lo, hi;
            image_range(d, pt->tile, 1, &w, &h, &lo, &hi);
            ck_assert(w >= 192 && w <= 320 && w == h);
            ck_assert_msg(hi - lo >= 32, "tile of patch %lld: gray %d..%d", (long long)pt->patch_id, lo, hi);
            image_range(d, pt->highlight, 2, &hw, &hh, &lo, &hi);
            ck_assert(hw == w && hh == h && hi == 0);
            image_range(d, pt->mammogram, 1, &mw, &mh, &lo, &hi);
            ck_assert(mh <= 800 && pt->mbox[0] + pt->mbox[2] <= mw && pt->mbox[1] + pt->mbox[3] <= mh);
            ck_assert(j == 0 || pt->score <= u.patches[j - 1].score);
            const ndx_patch *ip = &ix.patches[pt->patch_id];
            ck_assert(pt->box[0] == ip->x && pt->box[1] == ip->y && pt->box[2] == ip->w && pt->box[3] == ip->h);
            float overlap = 0;
            for (int k = 0; k < NDX_LESION_KINDS; k++) overlap += ip->overlap[k][0] + ip->overlap[k][1];
            if (pt->outline) {
                ck_assert_msg(overlap > 0, "patch %lld: an outline without a lesion", (long long)pt->patch_id);
                image_range(d, pt->outline, 4, &hw, &hh, &lo, &hi);
                ck_assert(hw == w && hh == h && hi > 0);
                outlines++;
            } else {
                ck_assert_msg(overlap < 0.05f, "patch %lld: %.3f lesion, no outline", (long long)pt->patch_id, overlap);
            }
        }
    }
    ck_assert_int_gt(outlines, 0);
    ndx__survey_close(d);
    ndx_patches_free(&ix);
}

START_TEST(test_real_simulate_export)
{
    char db[400], p[400];
    path_of(db, sizeof db, "real.sqlite");
    ck_assert_int_eq(run("survey init --db %s --dissection %s/real --data %s/data --model %s/tiny.safetensors "
                         "--units 12 --repeats 2 --seed 4", db, dir, dir, dir), 0);
    ck_assert(output_has("14 units (2 repeats"));
    ck_assert(no_leftovers("real.sqlite.tmp"));
    ck_assert_int_eq(run("survey simulate --db %s --readers 3 --seed 5", db), 0);
    ck_assert_int_eq(run("survey reader add --db %s human --role other", db), 0);
    ck_assert_int_eq(run("survey reader list --db %s", db), 0);
    ck_assert(output_has("sim-3") && output_has("simulated") && output_has("14/14"));
    /* the hash of units.csv */
    path_of(p, sizeof p, "real/units.csv");
    size_t n;
    char *csv = tu_slurp(p, &n), hash[17];
    snprintf(hash, sizeof hash, "%016llx", (unsigned long long)ndx_hash64(csv, n, 0));
    free(csv);
    ck_assert_int_eq(run("survey export --db %s --out %s/a.jsonl", db, dir), 0);
    ck_assert_int_eq(run("survey export --db %s --out %s/h.jsonl --history", db, dir), 0);
    int descriptors = 0;
    path_of(p, sizeof p, "a.jsonl");
    ck_assert_int_eq(check_jsonl(p, hash, 0, &descriptors), 3 * 14);
    ck_assert_int_gt(descriptors, 14);   /* lexicon terms, not text only */
    path_of(p, sizeof p, "h.jsonl");
    const int hist = check_jsonl(p, hash, 1, &descriptors);
    sqlite3 *raw;
    ck_assert_int_eq(sqlite3_open(db, &raw), SQLITE_OK);
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_prepare_v2(raw, "SELECT COUNT(*), COUNT(DISTINCT json), "
                                              "(SELECT COUNT(*) FROM readers WHERE simulated) FROM answers",
                                        -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_int_eq(hist, sqlite3_column_int(st, 0));
    ck_assert_int_gt(hist, 3 * 14);                   /* some units have 2-3 revisions */
    ck_assert_int_gt(sqlite3_column_int(st, 1), 10);  /* readers disagree */
    ck_assert_int_eq(sqlite3_column_int(st, 2), 3);
    sqlite3_finalize(st);
    sqlite3_close(raw);
    check_real_images();
}
END_TEST

START_TEST(test_export_csv_quoting)
{
    ndx_survey_init_stats st;
    init_crafted("csv.sqlite", 2, 0, 1, 0, &st);
    ndx__survey_db *db = open_db("csv.sqlite");
    char tok[NDX__SURVEY_TOKEN_HEX + 1];
    int64_t rid;
    ck_assert_int_eq(ndx__survey_reader_add(db, "Smith, \"J\"", "physicist", 0, 0, tok, &rid), NDX_OK);
    const char *ans = "{\"recognizable\":\"yes\",\"phenomena\":[{\"descriptors\":[\"finding.mass\","
                      "\"mass_margin.spiculated\"],\"text\":\"a \\\"spiculated\\\", dense\\nmass\",\"confidence\":5},"
                      "{\"text\":\"other\"}],\"comment\":\"<script>x</script>\"}";
    ck_assert_msg(ndx__survey_answer_save(db, rid, 1, ans, strlen(ans), 3, NULL) == NDX_OK, "%s", ndx_last_error());
    ndx__survey_close(db);
    char p[400], out[400];
    path_of(p, sizeof p, "csv.sqlite");
    path_of(out, sizeof out, "a.csv");
    long records;
    ck_assert_int_eq(ndx_survey_export(p, out, 0, &records), NDX_OK);
    ck_assert_int_eq(records, 1);
    ndx_csv *c;
    ck_assert_int_eq(ndx_csv_open(out, &c), NDX_OK);
    ck_assert_int_eq(ndx_csv_next(c), 1);
    const int cols = ndx_csv_nfields(c);
    ck_assert_int_eq(cols, 19 + 2 * 4 + 1);
    ck_assert_str_eq(ndx_csv_field(c, 0), "format");
    ck_assert_str_eq(ndx_csv_field(c, 18), "multiplicity");
    ck_assert_str_eq(ndx_csv_field(c, 19), "phenomenon_1_descriptors");
    ck_assert_str_eq(ndx_csv_field(c, 26), "phenomenon_2_confidence");
    ck_assert_str_eq(ndx_csv_field(c, 27), "comment");
    ck_assert_int_eq(ndx_csv_next(c), 1);
    ck_assert_int_eq(ndx_csv_nfields(c), cols);
    ck_assert_str_eq(ndx_csv_field(c, 2), "false");
    ck_assert_str_eq(ndx_csv_field(c, 3), "Smith, \"J\"");
    ck_assert_str_eq(ndx_csv_field(c, 18), "");   /* multiplicity null */
    ck_assert_str_eq(ndx_csv_field(c, 19), "finding.mass;mass_margin.spiculated");
    ck_assert_str_eq(ndx_csv_field(c, 20), "a \"spiculated\", dense\nmass");
    ck_assert_str_eq(ndx_csv_field(c, 22), "5");
    ck_assert_str_eq(ndx_csv_field(c, 23), "");
    ck_assert_str_eq(ndx_csv_field(c, 24), "other");
    ck_assert_str_eq(ndx_csv_field(c, 27), "<script>x</script>");
    ck_assert_int_eq(ndx_csv_next(c), 0);
    ndx_csv_close(c);
    /* the JSON line carries the same text, and a bad --out name writes nothing */
    path_of(out, sizeof out, "a.jsonl");
    ck_assert_int_eq(ndx_survey_export(p, out, 0, &records), NDX_OK);
    char *t = tu_slurp(out, NULL);
    ck_assert_ptr_nonnull(strstr(t, "\"simulated\":false"));
    ck_assert_ptr_nonnull(strstr(t, "a \\\"spiculated\\\", dense\\nmass"));
    free(t);
    path_of(out, sizeof out, "a.txt");
    ck_assert_int_eq(ndx_survey_export(p, out, 0, &records), NDX_ERR_INVALID);
    ck_assert(!file_exists(out));
}
END_TEST

/* ---- the CLI's bad input ------------------------------------------------------------------------ */
START_TEST(test_cli_bad_input)
{
    char db[400];
    path_of(db, sizeof db, "bad.sqlite");
    ck_assert_int_eq(run("survey init --db %s --dissection %s/nowhere --data %s/data", db, dir, dir), 1);
    ck_assert(output_has("nowhere"));
    ck_assert(!file_exists(db) && no_leftovers("bad.sqlite"));
    ck_assert_int_eq(run("survey init --db %s --dissection %s/data --data %s/data", db, dir, dir), 1);
    ck_assert(output_has(".dstate"));
    ck_assert(!file_exists(db) && no_leftovers("bad.sqlite"));
    ck_assert_int_eq(run("survey init --db %s --dissection %s/craft", db, dir), 1);   /* no data dir */
    ck_assert(output_has("--data"));
    ck_assert(!file_exists(db) && no_leftovers("bad.sqlite"));
    ck_assert_int_eq(run("survey init --db %s --dissection %s/craft --data %s/craft", db, dir, dir), 1);
    ck_assert(output_has("craft"));
    ck_assert(!file_exists(db) && no_leftovers("bad.sqlite"));
    /* a corrupt source image (found by a worker thread): named, nothing written */
    char cmd[1400], data2[400];
    path_of(data2, sizeof data2, "data2");
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -r '%s/data' '%s'", data2, dir, data2);
    ck_assert_int_eq(system(cmd), 0);
    ndx_patch_index ix = {0};
    ck_assert_int_eq(ndx_patches_read(data2, &ix), NDX_OK);
    char img[1000];
    snprintf(img, sizeof img, "%s/%s", data2, ix.images[ix.patches[0].image].path);
    ndx_patches_free(&ix);
    ck_assert_int_eq(truncate(img, 100), 0);
    ck_assert_int_eq(run("survey init --db %s --dissection %s/craft --data %s", db, dir, data2), 1);
    ck_assert(output_has(img));
    ck_assert(!file_exists(db) && no_leftovers("bad.sqlite"));
    ck_assert_int_eq(run("survey init --db %s --dissection %s/craft --units 0", db, dir), 2);
    ck_assert(output_has("--units"));
    ck_assert_int_eq(run("survey init --db %s --dissection %s/craft --cancer-share 1.5", db, dir), 2);
    ck_assert(output_has("--cancer-share"));
    ck_assert_int_eq(run("survey init --dissection %s/craft", dir), 2);
    ck_assert_int_eq(run("survey frobnicate"), 2);
    ck_assert(output_has("frobnicate"));
    ck_assert(!file_exists(db));
    /* an existing survey is never overwritten */
    ndx_survey_init_stats st;
    init_crafted("keep.sqlite", 2, 0, 1, 0, &st);
    char keep[400];
    path_of(keep, sizeof keep, "keep.sqlite");
    size_t n0, n1;
    char *before = tu_slurp(keep, &n0);
    ck_assert_int_eq(run("survey init --db %s --dissection %s/craft --data %s/data", keep, dir, dir), 1);
    ck_assert(output_has("exists already"));
    char *after = tu_slurp(keep, &n1);
    ck_assert(n0 == n1 && !memcmp(before, after, n0));
    free(before), free(after);
    ck_assert_int_eq(run("survey reader add --db %s x --role nurse", keep), 2);
    ck_assert(output_has("nurse"));
    ck_assert_int_eq(run("survey reader add --db %s", keep), 2);
    ck_assert_int_eq(run("survey reader disable --db %s nobody", keep), 1);
    ck_assert(output_has("nobody"));
    ck_assert_int_eq(run("survey reader add --db %s/missing.sqlite x", dir), 1);
    ck_assert(output_has("missing.sqlite"));
    ck_assert_int_eq(run("survey export --db %s --out %s/x.txt", keep, dir), 2);
    ck_assert_int_eq(run("survey simulate --db %s --readers 0", keep), 2);
    ck_assert(output_has("--readers"));
    ck_assert_int_eq(run("survey serve --db %s --port 70000", keep), 2);
    ck_assert(output_has("--port"));
}
END_TEST

static void add_tests(TCase *tc)
{
    tcase_add_test(tc, test_real_simulate_export);
    tcase_add_test(tc, test_export_csv_quoting);
    tcase_add_test(tc, test_cli_bad_input);
}

int main(int argc, char **argv)
{
    (void)argc;
    return survey_suite(argv, "survey_export", add_tests);
}

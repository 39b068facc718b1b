/* The BI-RADS lexicon loader: the built-in file loads and validates, its
 * terms and synonyms are normalised, and broken files are refused with the
 * field named. */
#include <unistd.h>

#include "netdx.h"
#include "netdx_lexicon.h"
#include "testutil.h"

static void norm_is(const char *in, const char *want)
{
    char buf[128];
    size_t n = ndx_lexicon_normalise(in, buf, sizeof buf);
    ck_assert_str_eq(buf, want);
    ck_assert_uint_eq(n, strlen(want));
}

START_TEST(normalise)
{
    norm_is("IRREGULAR-ARCHITECTURAL_DISTORTION", "irregular architectural distortion");
    norm_is("  Fine   pleomorphic calcs. ", "fine pleomorphic calcs");
    norm_is("mass/asymmetry (focal)", "mass asymmetry focal");
    norm_is("Cooper's ligaments", "cooper's ligaments");
    norm_is("", "");
    norm_is("---", "");
    norm_is("caf\xc3\xa9-au-lait", "caf\xc3\xa9 au lait");
    char small[6];
    ck_assert_uint_eq(ndx_lexicon_normalise("Spiculated Mass", small, sizeof small), 15);
    ck_assert_str_eq(small, "spicu");
    ck_assert_uint_eq(ndx_lexicon_normalise("abc", NULL, 0), 3);
}
END_TEST

START_TEST(builtin)
{
    ndx_lexicon *lex;
    ck_assert_int_eq(ndx_lexicon_load(NULL, &lex), NDX_OK);
    ck_assert_str_eq(ndx_lexicon_version(lex), "birads-5th-2013-mammography/anchors-v1");
    int n = ndx_lexicon_size(lex), birads = 0, anat = 0;
    ck_assert_int_gt(n, 80);
    for (int i = 0; i < n; i++) {
        const ndx_lexicon_term *t = ndx_lexicon_term_at(lex, i);
        ck_assert_ptr_eq(ndx_lexicon_find(lex, t->id), t);
        ck_assert_int_gt((int)strlen(t->name), 0);
        birads += t->birads;
        anat += !strncmp(t->id, "anat.", 5);
        if (!strncmp(t->id, "anat.", 5) || !strncmp(t->id, "path.", 5)) ck_assert_int_eq(t->birads, 0);
        for (int j = 0; j < t->nsynonyms; j++) {
            char buf[256];
            ndx_lexicon_normalise(t->synonyms[j], buf, sizeof buf);
            ck_assert_str_eq(buf, t->synonyms[j]);
            for (int k = 0; k < j; k++) ck_assert_str_ne(t->synonyms[k], t->synonyms[j]);
        }
    }
    ck_assert_int_eq(anat, 11);
    ck_assert_int_eq(n - birads, 15);   /* 11 anatomy + 4 pathology terms */
    const ndx_lexicon_term *t = ndx_lexicon_find(lex, "mass_margin.spiculated");
    ck_assert_ptr_nonnull(t);
    ck_assert_str_eq(t->category, "mass_margin");
    ck_assert_str_eq(t->category_name, "Mass margin");
    ck_assert_int_eq(t->birads, 1);
    ck_assert_int_gt((int)strlen(t->definition), 0);
    ck_assert_ptr_null(ndx_lexicon_find(lex, "mass_margin.spiky"));
    ck_assert_ptr_null(ndx_lexicon_term_at(lex, n));
    ck_assert_ptr_null(ndx_lexicon_term_at(lex, -1));
    /* "ACR A" and "ACR a" both normalise to "acr a": kept once */
    t = ndx_lexicon_find(lex, "breast_composition.a");
    int acr = 0;
    for (int j = 0; j < t->nsynonyms; j++) acr += !strcmp(t->synonyms[j], "density a");
    ck_assert_int_eq(acr, 1);
    ndx_lexicon_free(lex);
}
END_TEST

/* Writes text to a temporary file and loads it: the status, and the error
 * must contain `field`. */
static void refused(const char *text, const char *field)
{
    char path[] = "/tmp/ndx-lexicon-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    ndx_lexicon *lex = (ndx_lexicon *)1;
    ck_assert_int_eq(ndx_lexicon_load(path, &lex), NDX_ERR_FORMAT);
    ck_assert_ptr_null(lex);
    ck_assert_msg(strstr(ndx_last_error(), field) && strstr(ndx_last_error(), path),
                  "error \"%s\" does not name %s and the file", ndx_last_error(), field);
    unlink(path);
}

#define CAT(d) "{\"version\":\"v\",\"categories\":[{\"id\":\"c\",\"name\":\"C\",\"source\":\"s\"," \
               "\"descriptors\":[" d "]}]}"

START_TEST(bad_files)
{
    refused("{", "not valid JSON");
    refused("{\"categories\":[]}", "version");
    refused("{\"version\":\"v\",\"categories\":[]}", "categories");
    refused(CAT(""), "categories[0].descriptors");
    refused(CAT("{\"id\":\"c.a\",\"name\":\"A\"},{\"id\":\"c.a\",\"name\":\"B\"}"),
            "categories[0].descriptors[1].id");
    refused(CAT("{\"id\":\"c.A\",\"name\":\"A\"}"), "categories[0].descriptors[0].id");
    refused(CAT("{\"id\":\"c.a\"}"), "categories[0].descriptors[0].name");
    refused(CAT("{\"id\":\"c.a\",\"name\":\"A\",\"synonyms\":[\"ok\",\" -- \"]}"),
            "categories[0].descriptors[0].synonyms[1]");
    refused(CAT("{\"id\":\"c.a\",\"name\":\"A\",\"synonyms\":[3]}"),
            "categories[0].descriptors[0].synonyms[0]");
    refused(CAT("{\"id\":\"c.a\",\"name\":\"A\",\"synonyms\":\"x\"}"),
            "categories[0].descriptors[0].synonyms");
    refused("{\"version\":\"v\",\"categories\":[{\"id\":\"c\",\"name\":\"C\",\"source\":\"s\","
            "\"descriptors\":[{\"id\":\"c.a\",\"name\":\"A\"}]},{\"id\":\"c\",\"name\":\"D\","
            "\"source\":\"s\",\"descriptors\":[{\"id\":\"c.b\",\"name\":\"B\"}]}]}",
            "categories[1].id");
    ndx_lexicon *lex;
    ck_assert_int_eq(ndx_lexicon_load("/nonexistent/lexicon.json", &lex), NDX_ERR_IO);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "/nonexistent/lexicon.json"));
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("lexicon");
    TCase *tc = tcase_create("lexicon");
    tcase_add_test(tc, normalise);
    tcase_add_test(tc, builtin);
    tcase_add_test(tc, bad_files);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(suite()); }

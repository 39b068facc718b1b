/* The report's survey file: ndx__rp_read_answers of the input as
 * answers.jsonl (one JSON object a line, every field checked, readers and
 * units cross-checked, phenomena mapped to the lexicon), against the
 * dissection folder of tests/data/report (its units.csv, hash
 * 587314a1495d4b2e, the one the fixture answers name). */
#include "fuzz.h"
#include "../src/report/report.h"

#ifndef NDX_SRCDIR
#define NDX_SRCDIR "."
#endif

static ndx_lexicon *lex;
static ndx_textmap *tm;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    if (ndx_lexicon_load(NULL, &lex) != NDX_OK || ndx_textmap_new(lex, &tm) != NDX_OK) {
        fprintf(stderr, "fuzz_report_answers: %s\n", ndx_last_error());
        abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(data, size);
    static const char *const dirs[1] = {NDX_SRCDIR "/tests/data/report"};
    rp_survey s;
    memset(&s, 0, sizeof s);
    s.lex = lex, s.tm = tm;
    fuzz_reset();
    ndx_status st = ndx__rp_read_dissections(&s, dirs, 1);
    if (st != NDX_OK) {
        fprintf(stderr, "fuzz_report_answers: %s\n", ndx_last_error());
        abort();
    }
    st = ndx__rp_read_answers(&s, path);
    fuzz_check(st, "ndx__rp_read_answers");
    if (st == NDX_OK)
        for (long i = 0; i < s.nanswers; i++) {
            const rp_answer *a = &s.answers[i];
            if (a->reader < 0 || a->reader >= s.nreaders || a->unit < 0 || a->unit >= s.nunits)
                abort();
            (void)ndx__rp_unit_row(&s, a->unit);
        }
    ndx__rp_survey_free(&s);
    return 0;
}

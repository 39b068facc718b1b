/* The lexicon file (--lexicon of survey and report): ndx_lexicon_load of
 * the input as JSON (version, categories, unique ids, names, synonyms
 * that stay non-empty once normalised), then ndx_textmap_new over it (the
 * report's text-to-term mapping) and a lookup of every term by its id. */
#include "fuzz.h"
#include "netdx_lexicon.h"
#include "netdx_report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(data, size);
    ndx_lexicon *lex = NULL;
    fuzz_reset();
    ndx_status st = ndx_lexicon_load(path, &lex);
    fuzz_check(st, "ndx_lexicon_load");
    if (st != NDX_OK) {
        if (lex) abort();
        return 0;
    }
    for (int i = 0; i < ndx_lexicon_size(lex); i++) {
        const ndx_lexicon_term *t = ndx_lexicon_term_at(lex, i);
        if (!t || !t->id || !t->id[0] || ndx_lexicon_find(lex, t->id) != t) abort();
    }
    ndx_textmap *tm = NULL;
    fuzz_reset();
    fuzz_check(ndx_textmap_new(lex, &tm), "ndx_textmap_new");
    ndx_textmap_free(tm);
    ndx_lexicon_free(lex);
    return 0;
}

/* Free text to lexicon descriptors (ndx_map_text): CBIS-style codes split at
 * '-', normalised words, the longest synonym first, greedy from the left,
 * implied principal findings, unmatched words reported.
 *
 * The index: one entry per (term, synonym), its words split at spaces,
 * sorted by word count (most first), then by file order, so the first entry
 * that fits at a position is the longest match. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

/* The principal findings a longer synonym may contain. */
static const char *const principal[] = {"finding.mass", "finding.calcifications",
                                        "finding.architectural_distortion", "finding.asymmetry"};
#define NPRINCIPAL 4
#define MAX_IMPLIED 2

/* Function words that carry no descriptor: skipped, never "unmatched". */
static const char *const stop_words[] = {"a", "an", "the", "of", "with", "and", "or", "in", "on",
                                         "at", "to", "for", "some", "possibly", "probably",
                                         "maybe", "like", "looks", "is", "are", "this", "these",
                                         "that", "from", "very", "few", "several", "small"};

typedef struct entry {
    const ndx_lexicon_term *term;
    int order;                   /* file order of (term, synonym) */
    const char *synonym;         /* the lexicon's normalised string */
    int nwords;
    char **words;
    int nimplied;
    struct { const ndx_lexicon_term *term; int first, count; } implied[MAX_IMPLIED];
} entry;

struct ndx_textmap {
    int n;
    entry *e;
};

static int by_length(const void *x, const void *y)
{
    const entry *a = x, *b = y;
    if (a->nwords != b->nwords) return b->nwords - a->nwords;
    return a->order - b->order;
}

/* Splits a copy of s at spaces; NULL on allocation failure. */
static char **split_words(const char *s, int *n)
{
    char *copy = strdup(s);
    int cap = 1;
    for (const char *p = s; *p; p++) cap += *p == ' ';
    char **w = calloc((size_t)cap + 1, sizeof *w);
    if (!copy || !w) {
        free(copy);
        free(w);
        return NULL;
    }
    int k = 0;
    for (char *tok = strtok(copy, " "); tok; tok = strtok(NULL, " ")) w[k++] = tok;
    if (k == 0) w[k++] = copy;   /* keep ownership of copy in w[0] */
    *n = k;
    return w;
}

static void free_words(char **w)
{
    if (w) free(w[0]);
    free(w);
}

void ndx_textmap_free(ndx_textmap *m)
{
    if (!m) return;
    for (int i = 0; i < m->n; i++) free_words(m->e[i].words);
    free(m->e);
    free(m);
}

/* Spans of e's words that are exactly a synonym of a principal finding. */
static void find_implied(ndx_textmap *m, entry *e)
{
    if (!e->term->birads || !strcmp(e->term->category, "finding_type")) return;
    for (int i = 0; i < m->n && e->nimplied < MAX_IMPLIED; i++) {
        const entry *f = &m->e[i];
        int is_principal = 0;
        for (int p = 0; p < NPRINCIPAL; p++) is_principal |= !strcmp(f->term->id, principal[p]);
        if (!is_principal || f->nwords >= e->nwords) continue;
        int dup = 0;
        for (int j = 0; j < e->nimplied; j++) dup |= e->implied[j].term == f->term;
        if (dup) continue;
        for (int s = 0; s + f->nwords <= e->nwords; s++) {
            int same = 1;
            for (int k = 0; k < f->nwords && same; k++) same = !strcmp(e->words[s + k], f->words[k]);
            if (!same) continue;
            e->implied[e->nimplied].term = f->term;
            e->implied[e->nimplied].first = s;
            e->implied[e->nimplied].count = f->nwords;
            e->nimplied++;
            break;
        }
    }
}

ndx_status ndx_textmap_new(const ndx_lexicon *lex, ndx_textmap **out)
{
    *out = NULL;
    if (!lex) return ndx__fail(NDX_ERR_INVALID, "textmap: no lexicon");
    ndx_textmap *m = calloc(1, sizeof *m);
    int total = 0;
    for (int i = 0; i < ndx_lexicon_size(lex); i++) total += ndx_lexicon_term_at(lex, i)->nsynonyms;
    if (m) m->e = calloc((size_t)total + 1, sizeof *m->e);
    if (!m || !m->e) {
        ndx_textmap_free(m);
        return ndx__fail(NDX_ERR_NOMEM, "textmap: out of memory");
    }
    for (int i = 0; i < ndx_lexicon_size(lex); i++) {
        const ndx_lexicon_term *t = ndx_lexicon_term_at(lex, i);
        for (int s = 0; s < t->nsynonyms; s++) {
            entry *e = &m->e[m->n];
            e->term = t;
            e->order = m->n;
            e->synonym = t->synonyms[s];
            e->words = split_words(e->synonym, &e->nwords);
            if (!e->words) {
                ndx_textmap_free(m);
                return ndx__fail(NDX_ERR_NOMEM, "textmap: out of memory");
            }
            m->n++;
        }
    }
    qsort(m->e, (size_t)m->n, sizeof *m->e, by_length);
    for (int i = 0; i + 1 < m->n; i++)
        for (int j = i + 1; j < m->n && m->e[j].nwords == m->e[i].nwords; j++)
            if (!strcmp(m->e[i].synonym, m->e[j].synonym) && m->e[i].term != m->e[j].term) {
                ndx__fail(NDX_ERR_FORMAT, "lexicon: the synonym \"%s\" belongs to both %s and %s: "
                          "text mapping would be ambiguous", m->e[i].synonym, m->e[i].term->id,
                          m->e[j].term->id);
                ndx_textmap_free(m);
                return NDX_ERR_FORMAT;
            }
    for (int i = 0; i < m->n; i++) find_implied(m, &m->e[i]);
    *out = m;
    return NDX_OK;
}

void ndx_map_result_free(ndx_map_result *r)
{
    if (!r) return;
    for (int i = 0; i < r->nwords; i++) free(r->words[i]);
    free(r->words);
    free(r->word_match);
    free(r->matches);
    free(r->terms);
    memset(r, 0, sizeof *r);
}

/* A token written as an upper-case code (no lower-case letter, some letter,
 * only letters, digits, '_' and '-'). */
static int is_code(const char *s, size_t n)
{
    int upper = 0;
    for (size_t i = 0; i < n; i++) {
        const unsigned char c = (unsigned char)s[i];
        if (islower(c) || !(isalnum(c) || c == '_' || c == '-')) return 0;
        upper |= isupper(c) != 0;
    }
    return upper;
}

typedef struct words_buf {
    ndx_map_result *r;
    int *segment;
    int cap;
} words_buf;

static int push_words(words_buf *b, const char *part, size_t n, int segment)
{
    char raw[512], norm[512];
    if (n >= sizeof raw) n = sizeof raw - 1;
    memcpy(raw, part, n);
    raw[n] = 0;
    ndx_lexicon_normalise(raw, norm, sizeof norm);
    for (char *tok = strtok(norm, " "); tok; tok = strtok(NULL, " ")) {
        ndx_map_result *r = b->r;
        if (r->nwords == b->cap) {
            b->cap = b->cap ? 2 * b->cap : 16;
            char **w = realloc(r->words, (size_t)b->cap * sizeof *w);
            if (w) r->words = w;
            int *sg = realloc(b->segment, (size_t)b->cap * sizeof *sg);
            if (sg) b->segment = sg;
            if (!w || !sg) return -1;
        }
        if (!(r->words[r->nwords] = strdup(tok))) return -1;
        b->segment[r->nwords++] = segment;
    }
    return 0;
}

/* Tokens at white space; a code token splits at each '-' with at least 3
 * characters on both sides (so "BI-RADS" stays whole), and no synonym
 * matches across such a split. */
static int tokenise(words_buf *b, const char *text)
{
    int segment = 0;
    const char *p = text;
    while (*p) {
        while (*p && isspace((unsigned char)*p)) p++;
        const char *s = p;
        while (*p && !isspace((unsigned char)*p)) p++;
        if (p == s) break;
        const size_t n = (size_t)(p - s);
        if (!is_code(s, n)) {
            if (push_words(b, s, n, segment)) return -1;
            continue;
        }
        const char *q = s;
        for (const char *c = s; c < p; c++) {
            if (*c != '-') continue;
            const char *end = c + 1;
            while (end < p && *end != '-') end++;
            if (c - q < 3 || end - (c + 1) < 3) continue;
            if (push_words(b, q, (size_t)(c - q), segment)) return -1;
            segment++;
            q = c + 1;
        }
        if (push_words(b, q, (size_t)(p - q), segment)) return -1;
    }
    return 0;
}

static int word_matches(const char *word, const char *syn)
{
    const size_t n = strlen(syn);
    if (strncmp(word, syn, n)) return 0;
    return !word[n] || !strcmp(word + n, "s") || !strcmp(word + n, "es");
}

static int add_term(ndx_map_result *r, const ndx_lexicon_term *t)
{
    for (int i = 0; i < r->nterms; i++)
        if (r->terms[i] == t) return 0;
    r->terms[r->nterms++] = t;
    return 1;
}

int ndx__rp_is_stop_word(const char *w)
{
    for (size_t i = 0; i < sizeof stop_words / sizeof *stop_words; i++)
        if (!strcmp(w, stop_words[i])) return 1;
    return 0;
}

static void match_words(const ndx_textmap *m, ndx_map_result *r, const int *segment)
{
    for (int i = 0; i < r->nwords;) {
        const entry *hit = NULL;
        for (int k = 0; k < m->n && !hit; k++) {
            const entry *e = &m->e[k];
            if (i + e->nwords > r->nwords || segment[i + e->nwords - 1] != segment[i]) continue;
            int ok = 1;
            for (int j = 0; j < e->nwords && ok; j++) ok = word_matches(r->words[i + j], e->words[j]);
            if (ok) hit = e;
        }
        if (!hit) {
            r->word_match[i] = ndx__rp_is_stop_word(r->words[i]) ? NDX_WORD_IGNORED : NDX_WORD_UNMATCHED;
            r->nunmatched += r->word_match[i] == NDX_WORD_UNMATCHED;
            i++;
            continue;
        }
        const int me = r->nmatches++;
        r->matches[me] = (ndx_map_match){hit->term, hit->synonym, i, hit->nwords, -1};
        add_term(r, hit->term);
        for (int j = 0; j < hit->nwords; j++) r->word_match[i + j] = me;
        for (int j = 0; j < hit->nimplied; j++)
            if (add_term(r, hit->implied[j].term))
                r->matches[r->nmatches++] = (ndx_map_match){
                    hit->implied[j].term, NULL, i + hit->implied[j].first, hit->implied[j].count, me};
        i += hit->nwords;
    }
}

ndx_status ndx_map_text(const ndx_textmap *m, const char *text, ndx_map_result *r)
{
    memset(r, 0, sizeof *r);
    if (!m || !text) return ndx__fail(NDX_ERR_INVALID, "map_text: no textmap or text");
    words_buf b = {r, NULL, 0};
    if (tokenise(&b, text) == 0) {
        const size_t n = (size_t)r->nwords + 1;
        r->word_match = malloc(n * sizeof *r->word_match);
        r->matches = malloc(n * (1 + MAX_IMPLIED) * sizeof *r->matches);
        r->terms = malloc(n * (1 + MAX_IMPLIED) * sizeof *r->terms);
    }
    if (!r->word_match || !r->matches || !r->terms) {
        free(b.segment);
        return ndx__fail(NDX_ERR_NOMEM, "map_text: out of memory");
    }
    match_words(m, r, b.segment);
    free(b.segment);
    return NDX_OK;
}

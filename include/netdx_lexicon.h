/* netdx — the BI-RADS lexicon as data.
 *
 * USAGE
 *
 *     ndx_lexicon *lex;
 *     if (ndx_lexicon_load(NULL, &lex) != NDX_OK)      // NULL: the built-in file
 *         fprintf(stderr, "%s\n", ndx_last_error());
 *     const ndx_lexicon_term *t = ndx_lexicon_find(lex, "mass_margin.spiculated");
 *     // t->name, t->definition, t->category_name, t->birads, t->synonyms
 *     ndx_lexicon_free(lex);
 *
 * The built-in file is data/birads-lexicon.json (BI-RADS Atlas 5th edition,
 * mammography, 2013: categories and descriptors with definitions and
 * synonyms, plus terms of the project's own for anatomy, artifacts and
 * pathology outcomes, whose category "source" starts with "project
 * extension"; see docs/lexicon.md).  The survey's picker and the report read
 * it through this loader.
 */
#ifndef NETDX_LEXICON_H
#define NETDX_LEXICON_H

#include "netdx.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#pragma GCC visibility push(default)   /* exported: see netdx.h */
#endif

typedef struct ndx_lexicon ndx_lexicon;

typedef struct ndx_lexicon_term {
    const char *id;              /* "mass_margin.spiculated": [a-z0-9_.]+ */
    const char *name;            /* as the atlas words it */
    const char *definition;      /* "" when the file gives none */
    const char *category;        /* the category's id, e.g. "mass_margin" */
    const char *category_name;
    int birads;                  /* 1: a BI-RADS term; 0: a project extension */
    int nsynonyms;
    const char *const *synonyms; /* normalised (ndx_lexicon_normalise), unique
                                    within the term, the name's own words
                                    not included unless the file lists them */
} ndx_lexicon_term;

/* Reads and validates a lexicon file (path NULL: the built-in one): a
 * "version" string and "categories", each with a unique "id", a "name", a
 * "source" and a non-empty "descriptors" array of terms with unique "id"s
 * (across the file), a "name", an optional "definition" and optional
 * "synonyms" (strings that stay non-empty once normalised).  Errors name the
 * file and the field, e.g. "categories[3].descriptors[2].id". */
ndx_status ndx_lexicon_load(const char *path, ndx_lexicon **out);
void ndx_lexicon_free(ndx_lexicon *lex);
/* The file's "version" string. */
const char *ndx_lexicon_version(const ndx_lexicon *lex);
/* Terms in file order; i in [0, ndx_lexicon_size). */
int ndx_lexicon_size(const ndx_lexicon *lex);
const ndx_lexicon_term *ndx_lexicon_term_at(const ndx_lexicon *lex, int i);
/* The term with this id, or NULL. */
const ndx_lexicon_term *ndx_lexicon_find(const ndx_lexicon *lex, const char *id);
/* Normalises text for matching: ASCII lower-case; '_' and '-' become spaces;
 * other ASCII punctuation but the apostrophe becomes a space; runs of white
 * space collapse to one space; no leading or trailing space.  Bytes >= 0x80
 * (UTF-8) are kept.  Writes at most n bytes with the NUL (n may be 0) and
 * returns the full length, as snprintf does. */
size_t ndx_lexicon_normalise(const char *text, char *out, size_t n);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif
#ifdef __cplusplus
}
#endif

#endif

/* RFC 4180 CSV reader over a file read whole into memory.
 *
 * Fields are split at commas; a field that starts with '"' runs to the
 * matching quote ("" is a literal quote) and may hold commas, CR and LF.
 * Records end at LF or CRLF (a lone CR too); the last may lack a newline.
 * A UTF-8 byte order mark at the start is skipped.  Field text is copied
 * into one buffer per record, so pointers stay valid until the next call. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../core/core.h"
#include "../io/io.h"

struct ndx_csv {
    char name[512];
    char *text;
    size_t len, pos;
    long line, rec_line;
    char *buf;               /* field text of the current record */
    size_t buf_cap;
    size_t *start;           /* offsets of the fields in buf */
    int nfields, cap_fields;
    uint64_t digest;         /* XXH3-64 (seed 0) of the bytes parsed */
};

/* Larger CSVs are refused before they are read (a manifest of 100,000
 * mammograms is about 20 MB). */
#define CSV_MAX_BYTES (1ull << 30)

static ndx_status csv_init(ndx_csv **out, const char *name, char *text, size_t len)
{
    ndx_csv *c = calloc(1, sizeof *c);
    if (!c) {
        free(text);
        return ndx__fail(NDX_ERR_NOMEM, "%s: out of memory", name);
    }
    snprintf(c->name, sizeof c->name, "%s", name);
    c->text = text;
    c->len = len;
    c->digest = ndx_hash64(text, len, 0);
    c->line = 1;
    if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3)) c->pos = 3;
    c->buf_cap = len + 1;    /* a record's text never exceeds the input */
    c->buf = malloc(c->buf_cap);
    c->cap_fields = 64;
    c->start = malloc(sizeof *c->start * c->cap_fields);
    if (!c->buf || !c->start) {
        ndx_csv_close(c);
        return ndx__fail(NDX_ERR_NOMEM, "%s: out of memory", name);
    }
    *out = c;
    return NDX_OK;
}

ndx_status ndx_csv_open(const char *path, ndx_csv **out)
{
    *out = NULL;
    char *text;
    size_t len;
    ndx_status st = ndx__read_all(path, CSV_MAX_BYTES, &text, &len);
    return st ? st : csv_init(out, path, text, len);
}

ndx_status ndx_csv_open_mem(const char *text, size_t len, const char *name, ndx_csv **out)
{
    *out = NULL;
    char *copy = malloc(len + 1);
    if (!copy) return ndx__fail(NDX_ERR_NOMEM, "%s: out of memory", name);
    memcpy(copy, text, len);
    copy[len] = 0;
    return csv_init(out, name, copy, len);
}

static int add_field(ndx_csv *c, size_t off)
{
    if (c->nfields == c->cap_fields) {
        int cap = c->cap_fields * 2;
        size_t *s = realloc(c->start, sizeof *s * cap);
        if (!s) return ndx__fail(NDX_ERR_NOMEM, "%s: out of memory", c->name);
        c->start = s;
        c->cap_fields = cap;
    }
    c->start[c->nfields++] = off;
    return 0;
}

int ndx_csv_next(ndx_csv *c)
{
    c->nfields = 0;
    if (c->pos >= c->len) return 0;
    const char *t = c->text;
    size_t n = c->len, p = c->pos, o = 0;
    c->rec_line = c->line;
    if (add_field(c, 0)) return NDX_ERR_NOMEM;
    for (;;) {
        const long fline = c->line;
        /* one field */
        if (p < n && t[p] == '"') {
            long open_line = c->line;
            p++;
            for (;;) {
                if (p >= n) {
                    c->pos = n;
                    return ndx__fail(NDX_ERR_FORMAT, "%s:%ld: quote opened here is never closed",
                                     c->name, open_line);
                }
                char ch = t[p++];
                if (ch == '"') {
                    if (p < n && t[p] == '"') {
                        c->buf[o++] = '"';
                        p++;
                        continue;
                    }
                    break;
                }
                if (ch == '\n') c->line++;
                c->buf[o++] = ch;
            }
            /* text after the closing quote up to the separator is kept */
            while (p < n && t[p] != ',' && t[p] != '\n' && t[p] != '\r') c->buf[o++] = t[p++];
        } else {
            while (p < n && t[p] != ',' && t[p] != '\n' && t[p] != '\r') c->buf[o++] = t[p++];
        }
        /* a NUL would silently cut the field short: refused */
        const size_t fo = c->start[c->nfields - 1];
        const char *z = memchr(c->buf + fo, 0, o - fo);
        if (z) {
            long l = fline;
            for (const char *q = c->buf + fo; q < z; q++) l += *q == '\n';
            c->pos = n;
            return ndx__fail(NDX_ERR_FORMAT, "%s:%ld: column %d: NUL byte in the field", c->name, l,
                             c->nfields);
        }
        c->buf[o++] = 0;
        if (p < n && t[p] == ',') {
            p++;
            if (add_field(c, o)) return NDX_ERR_NOMEM;
            continue;
        }
        /* end of record */
        if (p < n && t[p] == '\r') p++;
        if (p < n && t[p] == '\n') p++;
        c->line++;
        break;
    }
    c->pos = p;
    return 1;
}

int ndx_csv_nfields(const ndx_csv *c) { return c->nfields; }

const char *ndx_csv_field(const ndx_csv *c, int i)
{
    if (i < 0 || i >= c->nfields) return "";
    return c->buf + c->start[i];
}

long ndx_csv_line(const ndx_csv *c) { return c->rec_line; }

const char *ndx_csv_name(const ndx_csv *c) { return c->name; }

void ndx_csv_close(ndx_csv *c)
{
    if (!c) return;
    free(c->text);
    free(c->buf);
    free(c->start);
    free(c);
}

int ndx__parse_int(const char *s, long lo, long hi, int *out)
{
    char *end;
    errno = 0;
    const long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return -1;
    *out = (int)v;
    return 0;
}

void ndx__csv_put(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

uint64_t ndx__csv_digest(const ndx_csv *c) { return c->digest; }

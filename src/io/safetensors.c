/* safetensors, the format alone (see safetensors.h): reading checks every
 * field before any data is read, by the rules of the Hugging Face
 * reference (safetensors/src/tensor.rs: read_metadata, Metadata::validate):
 * a header of at most 100,000,000 bytes of UTF-8 JSON, an object; keys
 * once each (serde's maps refuse a repeat; cJSON keeps both, so names are
 * compared here); __metadata__ strings only; a known dtype; integer shapes
 * whose product times the dtype's bits is whole bytes, without overflow,
 * and exactly end - begin; the tensors tiling the data, no gap, no overlap,
 * no byte after.  F16 and BF16 are converted to float32; writing lays the
 * tensors out in the order given.  cJSON parses and prints the header. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io.h"
#include "safetensors.h"

#define MAX_HEADER 100000000u   /* the reference's MAX_HEADER_SIZE */
/* Largest integer a double holds exactly: shapes and offsets beyond it are refused. */
#define MAX_EXACT 9007199254740992.0

/* The reference's Dtype and bitsize(). */
static const struct { const char *name; int bits; } dtypes[] = {
    {"BOOL", 8}, {"F4", 4}, {"F6_E2M3", 6}, {"F6_E3M2", 6}, {"U8", 8}, {"I8", 8},
    {"F8_E5M2", 8}, {"F8_E4M3", 8}, {"F8_E8M0", 8}, {"F8_E4M3FNUZ", 8}, {"F8_E5M2FNUZ", 8},
    {"I16", 16}, {"U16", 16}, {"F16", 16}, {"BF16", 16}, {"I32", 32}, {"U32", 32},
    {"F32", 32}, {"C64", 64}, {"F64", 64}, {"I64", 64}, {"U64", 64}};

/* n bytes of s are UTF-8 (no overlong forms, no surrogates, at most U+10FFFF). */
static int utf8_valid(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        const unsigned c = s[i];
        const int k = c < 0x80 ? 0 : (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2
                    : (c & 0xf8) == 0xf0 ? 3 : -1;
        if (k < 0 || n - i <= (size_t)k) return 0;
        uint32_t v = k ? c & (0x3fu >> k) : c;
        for (int j = 1; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80) return 0;
            v = v << 6 | (s[i + j] & 0x3fu);
        }
        static const uint32_t least[4] = {0, 0x80, 0x800, 0x10000};
        if (v < least[k] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return 0;
        i += (size_t)k + 1;
    }
    return 1;
}

void ndx__st_close(ndx__st *s)
{
    if (s->f) fclose(s->f);
    cJSON_Delete(s->root);
    free(s->e);
    memset(s, 0, sizeof *s);
}

/* Header length and JSON; s->f positioned after the header. */
static ndx_status read_header(ndx__st *s, const char *path, const uint64_t size)
{
    unsigned char b[8];
    if (size < 8 || fread(b, 1, 8, s->f) != 8)
        return ndx__fail(NDX_ERR_FORMAT, "%s: truncated file: %" PRIu64 " bytes, no "
                         "safetensors header", path, size);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | b[i];
    if (n > MAX_HEADER)
        return ndx__fail(NDX_ERR_FORMAT, "%s: bad header: length %" PRIu64 " exceeds the "
                         "format's limit of %u bytes", path, n, MAX_HEADER);
    if (n < 2 || n > size - 8)
        return ndx__fail(NDX_ERR_FORMAT, "%s: bad header: length %" PRIu64 " in a file of %"
                         PRIu64 " bytes", path, n, size);
    char *h = malloc(n + 1);
    if (!h) return ndx__fail(NDX_ERR_NOMEM, "%s: header of %" PRIu64 " bytes", path, n);
    if (fread(h, 1, n, s->f) != n) {
        free(h);
        return ndx__fail(NDX_ERR_IO, "%s: read error", path);
    }
    h[n] = 0;
    if (!utf8_valid((const unsigned char *)h, n)) {
        free(h);
        return ndx__fail(NDX_ERR_FORMAT, "%s: bad header: not valid UTF-8", path);
    }
    const char *end = NULL;
    s->root = h[0] == '{' ? cJSON_ParseWithLengthOpts(h, n, &end, 0) : NULL;
    long at = -1;
    if (!s->root) {
        const char *e = cJSON_GetErrorPtr();
        at = e && e >= h && e <= h + n ? (long)(e - h) : 0;
    } else {
        while (end && end < h + n && *end == ' ') end++;
        if (!cJSON_IsObject(s->root) || !end || end != h + n || memchr(h, 0, n))
            at = end ? (long)(end - h) : 0;
    }
    free(h);
    if (at >= 0)
        return ndx__fail(NDX_ERR_FORMAT, "%s: bad header: not a JSON object padded with spaces "
                         "(error near byte %ld of the header)", path, at);
    s->hlen = n;
    s->data_size = size - 8 - n;
    return NDX_OK;
}

/* v is a JSON number holding an integer in 0..MAX_EXACT. */
static int is_count(const cJSON *v)
{
    if (!cJSON_IsNumber(v)) return 0;
    const double d = v->valuedouble;
    return d >= 0 && d <= MAX_EXACT && d == (double)(int64_t)d;
}

/* One tensor's entry j of the header into e. */
static ndx_status parse_entry(const ndx__st *s, const cJSON *j, ndx__st_entry *e)
{
    const char *path = s->path, *name = j->string;
    if (!cJSON_IsObject(j))
        return ndx__fail(NDX_ERR_FORMAT, "%s: bad header: entry %s is not an object", path, name);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(j, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(j, "shape");
    const cJSON *of = cJSON_GetObjectItemCaseSensitive(j, "data_offsets");
    if (!cJSON_IsString(dt) || !cJSON_IsArray(sh) || !cJSON_IsArray(of) ||
        cJSON_GetArraySize(of) != 2)
        return ndx__fail(NDX_ERR_FORMAT, "%s: bad header: tensor %s lacks dtype, shape or "
                         "data_offsets", path, name);
    if (cJSON_GetArraySize(j) != 3)
        return ndx__fail(NDX_ERR_FORMAT, "%s: bad header: tensor %s has keys besides dtype, "
                         "shape and data_offsets", path, name);
    memset(e, 0, sizeof *e);
    e->name = name;
    e->dtype = dt->valuestring;
    int bits = 0;
    for (size_t i = 0; i < sizeof dtypes / sizeof *dtypes; i++)
        if (!strcmp(e->dtype, dtypes[i].name)) bits = dtypes[i].bits;
    if (!bits)
        return ndx__fail(NDX_ERR_FORMAT, "%s: tensor %s has dtype %s, not a safetensors dtype",
                         path, name, e->dtype);
    e->esize = bits / 8;
    e->ndim = cJSON_GetArraySize(sh);
    if (e->ndim > NDX_MAX_DIMS)
        return ndx__fail(NDX_ERR_SHAPE, "%s: tensor %s has %d dimensions, at most %d are read",
                         path, name, e->ndim, NDX_MAX_DIMS);
    uint64_t numel = 1, nbits = 0;
    int overflow = 0;
    for (int d = 0; d < e->ndim; d++) {
        const cJSON *v = cJSON_GetArrayItem(sh, d);
        if (!is_count(v))
            return ndx__fail(NDX_ERR_FORMAT, "%s: bad header: dimension %d of tensor %s is not "
                             "a non-negative integer", path, d, name);
        e->shape[d] = (int64_t)v->valuedouble;
        overflow |= __builtin_mul_overflow(numel, (uint64_t)e->shape[d], &numel);
    }
    overflow |= __builtin_mul_overflow(numel, (uint64_t)bits, &nbits);
    const cJSON *b0 = cJSON_GetArrayItem(of, 0), *b1 = cJSON_GetArrayItem(of, 1);
    if (!overflow && nbits % 8)
        return ndx__fail(NDX_ERR_FORMAT, "%s: bad header: tensor %s's %" PRIu64 " %s values "
                         "do not fill whole bytes", path, name, numel, e->dtype);
    if (overflow || !is_count(b0) || !is_count(b1) || b1->valuedouble < b0->valuedouble ||
        (uint64_t)b1->valuedouble - (uint64_t)b0->valuedouble != nbits / 8)
        return ndx__fail(NDX_ERR_FORMAT, "%s: bad header: data_offsets of tensor %s do not "
                         "hold its shape's %s%" PRIu64 " %s values", path, name,
                         overflow ? "more than " : "", overflow ? UINT64_MAX : numel, e->dtype);
    e->numel = numel;
    e->begin = (uint64_t)b0->valuedouble;
    e->end = (uint64_t)b1->valuedouble;
    if (e->end > s->data_size)
        return ndx__fail(NDX_ERR_FORMAT, "%s: truncated file: tensor %s ends at byte %" PRIu64
                         " of the data, the file holds %" PRIu64, path, name, e->end,
                         s->data_size);
    return NDX_OK;
}

static int by_offset(const void *a, const void *b)
{
    const ndx__st_entry *x = *(ndx__st_entry *const *)a, *y = *(ndx__st_entry *const *)b;
    return x->begin != y->begin ? (x->begin > y->begin) - (x->begin < y->begin)
                                : (x->end > y->end) - (x->end < y->end);
}

static int by_name(const void *a, const void *b)
{
    return strcmp((*(ndx__st_entry *const *)a)->name, (*(ndx__st_entry *const *)b)->name);
}

/* Names once each; the tensors tile the data with no gap or overlap. */
static ndx_status check_layout(const ndx__st *s)
{
    ndx__st_entry **p = malloc(((size_t)s->n + 1) * sizeof *p);
    if (!p) return ndx__fail(NDX_ERR_NOMEM, "%s: out of memory", s->path);
    for (int i = 0; i < s->n; i++) p[i] = &s->e[i];
    ndx_status st = NDX_OK;
    qsort(p, (size_t)s->n, sizeof *p, by_name);
    for (int i = 1; i < s->n && !st; i++)
        if (!strcmp(p[i - 1]->name, p[i]->name))
            st = ndx__fail(NDX_ERR_FORMAT, "%s: bad header: tensor %s is named twice", s->path,
                           p[i]->name);
    qsort(p, (size_t)s->n, sizeof *p, by_offset);
    uint64_t at = 0;
    for (int i = 0; i < s->n && !st; i++) {
        if (p[i]->begin != at)
            st = ndx__fail(NDX_ERR_FORMAT, "%s: bad header: tensor %s starts at byte %" PRIu64
                           " of the data, %s %" PRIu64, s->path, p[i]->name, p[i]->begin,
                           p[i]->begin < at ? "overlapping the tensor before, which ends at"
                                            : "leaving a gap after byte", at);
        at = p[i]->end;
    }
    if (!st && at != s->data_size)
        st = ndx__fail(NDX_ERR_FORMAT, "%s: %" PRIu64 " bytes after the last tensor's data",
                       s->path, s->data_size - at);
    free(p);
    return st;
}

/* __metadata__: absent, or given once, an object of strings, each key once. */
static ndx_status check_meta(const ndx__st *s, const cJSON *m)
{
    for (const cJSON *o = m->next; o; o = o->next)
        if (!strcmp(o->string, "__metadata__"))
            return ndx__fail(NDX_ERR_FORMAT, "%s: bad header: __metadata__ is given twice",
                             s->path);
    if (!cJSON_IsObject(m))
        return ndx__fail(NDX_ERR_FORMAT, "%s: bad header: __metadata__ is not an object", s->path);
    const cJSON *v;
    cJSON_ArrayForEach(v, m) {
        if (!cJSON_IsString(v))
            return ndx__fail(NDX_ERR_FORMAT, "%s: bad header: __metadata__ %s is not a string",
                             s->path, v->string);
        for (const cJSON *o = v->next; o; o = o->next)
            if (!strcmp(o->string, v->string))
                return ndx__fail(NDX_ERR_FORMAT, "%s: bad header: __metadata__ %s is given twice",
                                 s->path, v->string);
    }
    return NDX_OK;
}

ndx_status ndx__st_open(ndx__st *s, const char *path)
{
    memset(s, 0, sizeof *s);
    s->path = path;
    uint64_t size;
    ndx_status st = ndx__open_read(path, &s->f, &size);
    if (st) return st;
    st = read_header(s, path, size);
    if (st) goto fail;
    s->e = calloc((size_t)cJSON_GetArraySize(s->root) + 1, sizeof *s->e);
    if (!s->e) {
        st = ndx__fail(NDX_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    const cJSON *j;
    cJSON_ArrayForEach(j, s->root) {
        if (!strcmp(j->string, "__metadata__")) st = check_meta(s, j);
        else st = parse_entry(s, j, &s->e[s->n++]);
        if (st) goto fail;
    }
    if ((st = check_layout(s))) goto fail;
    s->path = path;
    return NDX_OK;
fail:
    ndx__st_close(s);
    return st;
}

const char *ndx__st_meta(const ndx__st *s, const char *key)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(s->root, "__metadata__");
    const cJSON *v = m ? cJSON_GetObjectItemCaseSensitive(m, key) : NULL;
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

int ndx__st_is_float(const ndx__st_entry *e)
{
    return !strcmp(e->dtype, "F32") || !strcmp(e->dtype, "F16") || !strcmp(e->dtype, "BF16");
}

static float f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, e = (h >> 10) & 31, m = h & 1023, u;
    if (e == 0) {
        if (!m) u = sign;
        else {   /* subnormal: renormalise */
            e = 127 - 15 + 1;
            while (!(m & 1024)) m <<= 1, e--;
            u = sign | e << 23 | (m & 1023) << 13;
        }
    } else if (e == 31) {
        u = sign | 0x7f800000u | m << 13;
    } else {
        u = sign | (e + 127 - 15) << 23 | m << 13;
    }
    float f;
    memcpy(&f, &u, 4);
    return f;
}

ndx_status ndx__st_read(ndx__st *s, const ndx__st_entry *e, float *dst)
{
    if (!ndx__st_is_float(e))
        return ndx__fail(NDX_ERR_FORMAT, "%s: tensor %s has dtype %s (F32, F16, BF16 read)",
                         s->path, e->name, e->dtype);
    const int es = e->esize, kind = !strcmp(e->dtype, "F16");
    if (fseeko(s->f, (off_t)(8 + s->hlen + e->begin), SEEK_SET) != 0)
        return ndx__fail(NDX_ERR_IO, "%s: read error in tensor %s", s->path, e->name);
    enum { CHUNK = 4096 };
    unsigned char buf[4 * CHUNK];
    for (uint64_t done = 0; done < e->numel;) {
        const size_t k = e->numel - done < CHUNK ? (size_t)(e->numel - done) : CHUNK;
        if (fread(buf, (size_t)es, k, s->f) != k)
            return ndx__fail(NDX_ERR_IO, "%s: read error in tensor %s", s->path, e->name);
        for (size_t i = 0; i < k; i++) {
            const unsigned char *b = buf + (size_t)es * i;
            uint32_t u = es == 4 ? (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
                                       (uint32_t)b[3] << 24
                                 : (uint32_t)b[0] | (uint32_t)b[1] << 8;
            float v;
            if (es == 4) memcpy(&v, &u, 4);
            else if (kind) v = f16_to_f32((uint16_t)u);
            else u <<= 16, memcpy(&v, &u, 4);
            if (!isfinite(v))
                return ndx__fail(NDX_ERR_FORMAT, "%s: tensor %s: value %" PRIu64 " is not "
                                 "finite", s->path, e->name, done + i);
            if (dst) dst[done + i] = v;
        }
        done += k;
    }
    return NDX_OK;
}

/* The header: every tensor's entry, then __metadata__; NULL when out of memory. */
static char *build_header(const ndx__st_put *t, int n, const char *const *meta)
{
    cJSON *root = cJSON_CreateObject();
    int ok = root != NULL;
    uint64_t off = 0;
    for (int i = 0; i < n && ok; i++) {
        cJSON *e = cJSON_AddObjectToObject(root, t[i].name);
        cJSON *sh = e ? cJSON_AddArrayToObject(e, "shape") : NULL;
        cJSON *of = e ? cJSON_AddArrayToObject(e, "data_offsets") : NULL;
        ok = e && sh && of && cJSON_AddStringToObject(e, "dtype", t[i].dtype);
        for (int d = 0; ok && d < t[i].ndim; d++)
            ok = cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)t[i].shape[d]));
        ok = ok && cJSON_AddItemToArray(of, cJSON_CreateNumber((double)off));
        off += t[i].nbytes;
        ok = ok && cJSON_AddItemToArray(of, cJSON_CreateNumber((double)off));
    }
    cJSON *m = ok ? cJSON_AddObjectToObject(root, "__metadata__") : NULL;
    ok = m != NULL;
    for (int i = 0; ok && meta && meta[i]; i += 2)
        ok = cJSON_AddStringToObject(m, meta[i], meta[i + 1]) != NULL;
    char *h = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    return h;
}

ndx_status ndx__st_write(const char *path, const ndx__st_put *t, int n,
                         const char *const *meta)
{
    char *h = build_header(t, n, meta);
    if (!h) return ndx__fail(NDX_ERR_NOMEM, "%s: out of memory building the header", path);
    const size_t hl = strlen(h), pad = (8 - hl % 8) % 8;
    ndx__out o;
    ndx_status st = ndx__out_open(&o, path, 0);
    if (st) {
        free(h);
        return st;
    }
    unsigned char lb[8];
    const uint64_t len = hl + pad;
    for (int i = 0; i < 8; i++) lb[i] = (unsigned char)(len >> (8 * i));
    ndx__out_put(&o, lb, 8);
    ndx__out_put(&o, h, hl);
    ndx__out_put(&o, "        ", pad);
    free(h);
    static const unsigned char zeros[64];
    for (int i = 0; i < n; i++) {
        if (t[i].data) {
            ndx__out_put(&o, t[i].data, t[i].nbytes);
            continue;
        }
        for (uint64_t z = 0; z < t[i].nbytes; z += sizeof zeros)
            ndx__out_put(&o, zeros, t[i].nbytes - z < sizeof zeros ? t[i].nbytes - z : sizeof zeros);
    }
    return ndx__out_commit(&o);
}

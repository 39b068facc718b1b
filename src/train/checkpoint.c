/* Checkpoints: named float arrays, position, RNG state and scalars, with an
 * XXH3-64 checksum verified on load.
 *
 * File layout, little-endian:
 *   0   char   magic[8] = "NDXCKPT1"
 *   8   u32    version = 2 (1 is read too: the same layout; version 2 marks
 *              the training loop's added scalars, src/train/loop.c)
 *   12  u32    meta_bytes          bytes of the meta section after the header
 *   16  u64    file_bytes          size of the whole file
 *   24  i64    epoch, batch, step
 *   48  u64    rng[4]
 *   80  u32    n_scalars, n_arrays
 *   88  meta:  n_scalars x (u16 name_len, name, f64 value)
 *              n_arrays  x (u16 name_len, name, u64 count)
 *       data:  the arrays' floats (f32), in the meta's order
 *   file_bytes - 8:  u64 XXH3-64 (seed 0) of every byte before it
 * Loading hashes the file as it is first, then parses it: a flipped byte
 * anywhere is a checksum mismatch, a short file is reported as truncated.
 * Written and checked by src/io/file.c (ndx__out sealed, ndx__sealed_check),
 * as the dissection state is: the two formats share the safe write and the
 * checksum and stay two layouts, a checkpoint being named arrays and scalars
 * matched by name, a state one fixed struct. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../io/io.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "checkpoint.c stores floats in host order and assumes a little-endian host"
#endif

#define CKPT_MAGIC "NDXCKPT1"
#define CKPT_VERSION 2u
#define CKPT_VERSION_MIN 1u
#define CKPT_HEADER 88u
#define CKPT_MAX_META (64u << 20)
#define CKPT_MAX_ARRAYS 100000u

static void put_u16(unsigned char *b, uint16_t v) { b[0] = (unsigned char)v; b[1] = (unsigned char)(v >> 8); }
static void put_u32(unsigned char *b, uint32_t v)
{
    for (int i = 0; i < 4; i++) b[i] = (unsigned char)(v >> (8 * i));
}
static void put_u64(unsigned char *b, uint64_t v)
{
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i));
}
static uint16_t get_u16(const unsigned char *b) { return (uint16_t)(b[0] | b[1] << 8); }
static uint32_t get_u32(const unsigned char *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}
static uint64_t get_u64(const unsigned char *b)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | b[i];
    return v;
}

ndx_status ndx_ckpt_set(ndx_ckpt_state *st, const char *name, double value)
{
    if (!st || !name || !*name || strlen(name) >= sizeof st->scalars[0].name)
        return ndx__fail(NDX_ERR_INVALID, "checkpoint scalar '%s': name empty or over %zu bytes",
                         name ? name : "(null)", sizeof st->scalars[0].name - 1);
    for (int i = 0; i < st->n_scalars; i++)
        if (!strcmp(st->scalars[i].name, name)) {
            st->scalars[i].value = value;
            return NDX_OK;
        }
    if (st->n_scalars < 0 || st->n_scalars >= NDX_CKPT_MAX_SCALARS)
        return ndx__fail(NDX_ERR_INVALID, "checkpoint scalar '%s': already %d scalars (max %d)",
                         name, st->n_scalars, NDX_CKPT_MAX_SCALARS);
    strcpy(st->scalars[st->n_scalars].name, name);
    st->scalars[st->n_scalars++].value = value;
    return NDX_OK;
}

ndx_status ndx_ckpt_get(const ndx_ckpt_state *st, const char *name, double *value)
{
    for (int i = 0; st && name && i < st->n_scalars; i++)
        if (!strcmp(st->scalars[i].name, name)) {
            *value = st->scalars[i].value;
            return NDX_OK;
        }
    return ndx__fail(NDX_ERR_INVALID, "checkpoint has no scalar '%s'", name ? name : "(null)");
}

static ndx_status check_arrays(const char *path, const ndx_ckpt_array *arrays, int n)
{
    if (n < 0 || (unsigned)n > CKPT_MAX_ARRAYS || (n && !arrays))
        return ndx__fail(NDX_ERR_INVALID, "checkpoint %s: %d arrays (max %u)", path, n,
                         CKPT_MAX_ARRAYS);
    for (int i = 0; i < n; i++) {
        const char *nm = arrays[i].name;
        if (!nm || !*nm || strlen(nm) >= NDX_CKPT_NAME_MAX)
            return ndx__fail(NDX_ERR_INVALID,
                             "checkpoint %s: array %d's name is empty or over %d bytes",
                             path, i, NDX_CKPT_NAME_MAX - 1);
        if (arrays[i].count && !arrays[i].data)
            return ndx__fail(NDX_ERR_INVALID, "checkpoint %s: array '%s' has no data",
                             path, nm);
        if (arrays[i].count > (SIZE_MAX >> 3))
            return ndx__fail(NDX_ERR_INVALID, "checkpoint %s: array '%s' is too large",
                             path, nm);
        for (int j = 0; j < i; j++)
            if (!strcmp(arrays[j].name, nm))
                return ndx__fail(NDX_ERR_INVALID, "checkpoint %s: array '%s' given twice",
                                 path, nm);
    }
    return NDX_OK;
}

ndx_status ndx_ckpt_save(const char *path, const ndx_ckpt_state *st,
                         const ndx_ckpt_array *arrays, int n_arrays)
{
    if (!path || !st)
        return ndx__fail(NDX_ERR_INVALID, "checkpoint: path and state must not be NULL");
    ndx_status rc = check_arrays(path, arrays, n_arrays);
    if (rc) return rc;
    if (st->n_scalars < 0 || st->n_scalars > NDX_CKPT_MAX_SCALARS)
        return ndx__fail(NDX_ERR_INVALID, "checkpoint %s: %d scalars (max %d)", path,
                         st->n_scalars, NDX_CKPT_MAX_SCALARS);
    /* Size the meta section and the file. */
    uint64_t meta = 0, data = 0;
    for (int i = 0; i < st->n_scalars; i++) {
        size_t len = strnlen(st->scalars[i].name, sizeof st->scalars[i].name);
        if (len == 0 || len >= sizeof st->scalars[i].name)
            return ndx__fail(NDX_ERR_INVALID, "checkpoint %s: scalar %d has a bad name",
                             path, i);
        meta += 2 + len + 8;
    }
    for (int i = 0; i < n_arrays; i++) {
        meta += 2 + strlen(arrays[i].name) + 8;
        data += (uint64_t)arrays[i].count * 4;
    }
    uint64_t file_bytes = CKPT_HEADER + meta + data + 8;

    if (meta > CKPT_MAX_META)
        return ndx__fail(NDX_ERR_INVALID, "checkpoint %s: too many names", path);
    ndx__out o;
    if ((rc = ndx__out_open(&o, path, 1))) return rc;
    unsigned char hd[CKPT_HEADER];
    memcpy(hd, CKPT_MAGIC, 8);
    put_u32(hd + 8, CKPT_VERSION);
    put_u32(hd + 12, (uint32_t)meta);
    put_u64(hd + 16, file_bytes);
    put_u64(hd + 24, (uint64_t)st->epoch);
    put_u64(hd + 32, (uint64_t)st->batch);
    put_u64(hd + 40, (uint64_t)st->step);
    for (int i = 0; i < 4; i++) put_u64(hd + 48 + 8 * i, st->rng.s[i]);
    put_u32(hd + 80, (uint32_t)st->n_scalars);
    put_u32(hd + 84, (uint32_t)n_arrays);
    ndx__out_put(&o, hd, sizeof hd);
    unsigned char e[2 + NDX_CKPT_NAME_MAX + 8];
    for (int i = 0; i < st->n_scalars; i++) {
        size_t len = strlen(st->scalars[i].name);
        double v = st->scalars[i].value;
        uint64_t bits;
        memcpy(&bits, &v, 8);
        put_u16(e, (uint16_t)len);
        memcpy(e + 2, st->scalars[i].name, len);
        put_u64(e + 2 + len, bits);
        ndx__out_put(&o, e, 2 + len + 8);
    }
    for (int i = 0; i < n_arrays; i++) {
        size_t len = strlen(arrays[i].name);
        put_u16(e, (uint16_t)len);
        memcpy(e + 2, arrays[i].name, len);
        put_u64(e + 2 + len, (uint64_t)arrays[i].count);
        ndx__out_put(&o, e, 2 + len + 8);
    }
    for (int i = 0; i < n_arrays; i++) ndx__out_put(&o, arrays[i].data, arrays[i].count * 4);
    return ndx__out_commit(&o);   /* appends the checksum */
}

/* ---- loading ------------------------------------------------------------ */

typedef struct {
    char name[NDX_CKPT_NAME_MAX];
    uint64_t count, offset;   /* offset of the data in the file */
} entry;

/* Parses one name at *pos of meta (size len); 0 on a malformed name. */
static int get_name(const unsigned char *meta, size_t len, size_t *pos, char *out,
                    size_t cap)
{
    if (len - *pos < 2) return 0;
    size_t n = get_u16(meta + *pos);
    *pos += 2;
    if (n == 0 || n >= cap || len - *pos < n || memchr(meta + *pos, 0, n)) return 0;
    memcpy(out, meta + *pos, n);
    out[n] = 0;
    *pos += n;
    return 1;
}

/* Opens path and checks it as a whole: magic, size, checksum.  hd: its
 * header; *size: its bytes. */
static ndx_status ckpt_open(const char *path, FILE **out, unsigned char *hd, uint64_t *size)
{
    FILE *f;
    ndx_status rc = ndx__open_read(path, &f, size);
    if (rc) return ndx__fail(rc, "checkpoint %s", ndx_last_error());
    const size_t want = *size < CKPT_HEADER ? (size_t)*size : CKPT_HEADER;
    const size_t got = fread(hd, 1, want, f);
    if (got != want) {
        rc = ndx__fail(NDX_ERR_IO, "checkpoint %s: read error", path);
        goto done;
    }
    if (memcmp(hd, CKPT_MAGIC, got < 8 ? got : 8) != 0) {
        rc = ndx__fail(NDX_ERR_FORMAT, "checkpoint %s: not a netdx checkpoint (bad magic)", path);
        goto done;
    }
    if (*size < CKPT_HEADER + 8) {
        rc = ndx__fail(NDX_ERR_FORMAT, "checkpoint %s: truncated: %llu bytes, shorter than the "
                       "%u-byte header and checksum", path, (unsigned long long)*size,
                       CKPT_HEADER + 8);
        goto done;
    }
    const uint64_t file_bytes = get_u64(hd + 16);
    if (file_bytes > *size) {
        rc = ndx__fail(NDX_ERR_FORMAT, "checkpoint %s: truncated: %llu of %llu bytes", path,
                       (unsigned long long)*size, (unsigned long long)file_bytes);
        goto done;
    }
    if ((rc = ndx__sealed_check(f, *size, path))) goto done;
    /* The bytes are as written; still, check the structure. */
    const uint32_t version = get_u32(hd + 8), meta_len = get_u32(hd + 12);
    if (version < CKPT_VERSION_MIN || version > CKPT_VERSION || file_bytes != *size ||
        meta_len > CKPT_MAX_META || meta_len > *size - CKPT_HEADER - 8 ||
        get_u32(hd + 80) > NDX_CKPT_MAX_SCALARS ||
        get_u32(hd + 84) > CKPT_MAX_ARRAYS ||
        /* each name takes >= 11 bytes of meta: counts checked before allocating */
        11 * ((uint64_t)get_u32(hd + 80) + get_u32(hd + 84)) > meta_len)
        rc = ndx__fail(NDX_ERR_FORMAT, "checkpoint %s: version %u (expected %u..%u) or header "
                       "sizes do not fit the file", path, version, CKPT_VERSION_MIN, CKPT_VERSION);
done:
    if (rc) fclose(f);
    else *out = f;
    return rc;
}

/* The meta section: the scalars into s, the arrays' names, counts and
 * offsets into ents (n entries, as the header says). */
static ndx_status ckpt_meta(const char *path, FILE *f, const unsigned char *hd, uint64_t size,
                            ndx_ckpt_state *s, entry *ents)
{
    const uint32_t meta_len = get_u32(hd + 12), ns = get_u32(hd + 80), na = get_u32(hd + 84);
    unsigned char *meta = malloc(meta_len ? meta_len : 1);
    if (!meta) return ndx__fail(NDX_ERR_NOMEM, "checkpoint %s: out of memory", path);
    ndx_status rc = NDX_OK;
    if (fseek(f, CKPT_HEADER, SEEK_SET) != 0 || fread(meta, 1, meta_len, f) != meta_len) {
        rc = ndx__fail(NDX_ERR_IO, "checkpoint %s: read error", path);
        goto done;
    }
    memset(s, 0, sizeof *s);
    s->epoch = (int64_t)get_u64(hd + 24);
    s->batch = (int64_t)get_u64(hd + 32);
    s->step = (int64_t)get_u64(hd + 40);
    s->version = get_u32(hd + 8);
    for (int i = 0; i < 4; i++) s->rng.s[i] = get_u64(hd + 48 + 8 * i);
    /* a valid checksum proves the bytes, not the values */
    if ((rc = ndx__field_int(path, s->epoch, 0, INT32_MAX, "epoch")) ||
        (rc = ndx__field_int(path, s->batch, 0, INT32_MAX, "batch")) ||
        (rc = ndx__field_int(path, s->step, 0, INT64_MAX / 2, "step")))
        goto done;
    if (!(s->rng.s[0] | s->rng.s[1] | s->rng.s[2] | s->rng.s[3])) {
        rc = ndx__fail(NDX_ERR_FORMAT, "%s: the RNG state is all zeros (a generator that "
                       "never moves)", path);
        goto done;
    }
    size_t pos = 0;
    for (uint32_t i = 0; i < ns; i++) {
        if (!get_name(meta, meta_len, &pos, s->scalars[i].name, sizeof s->scalars[i].name) ||
            meta_len - pos < 8) {
            rc = ndx__fail(NDX_ERR_FORMAT, "checkpoint %s: scalar %u is malformed", path, i);
            goto done;
        }
        uint64_t bits = get_u64(meta + pos);
        memcpy(&s->scalars[i].value, &bits, 8);
        pos += 8;
        for (uint32_t j = 0; j < i; j++)
            if (!strcmp(s->scalars[j].name, s->scalars[i].name)) {
                rc = ndx__fail(NDX_ERR_FORMAT, "checkpoint %s: scalar '%s' is given twice", path,
                               s->scalars[i].name);
                goto done;
            }
    }
    s->n_scalars = (int)ns;
    uint64_t offset = CKPT_HEADER + (uint64_t)meta_len;
    for (uint32_t i = 0; i < na; i++) {
        if (!get_name(meta, meta_len, &pos, ents[i].name, sizeof ents[i].name) ||
            meta_len - pos < 8) {
            rc = ndx__fail(NDX_ERR_FORMAT, "checkpoint %s: array %u is malformed", path, i);
            goto done;
        }
        ents[i].count = get_u64(meta + pos);
        pos += 8;
        ents[i].offset = offset;
        if (ents[i].count > (size - offset) / 4) {
            rc = ndx__fail(NDX_ERR_FORMAT, "checkpoint %s: array '%s' runs past the end",
                           path, ents[i].name);
            goto done;
        }
        offset += ents[i].count * 4;
    }
    if (pos != meta_len || offset != size - 8)
        rc = ndx__fail(NDX_ERR_FORMAT, "checkpoint %s: the sections do not add up to the file",
                       path);
done:
    free(meta);
    return rc;
}

/* The caller's arrays must be the file's (na entries), in any order: for
 * each, its entry's index into at[]. */
static ndx_status ckpt_match(const char *path, const entry *ents, uint32_t na,
                             const ndx_ckpt_array *arrays, int n_arrays, uint32_t *at)
{
    for (int i = 0; i < n_arrays; i++) {
        uint32_t j = 0;
        while (j < na && strcmp(ents[j].name, arrays[i].name)) j++;
        if (j == na)
            return ndx__fail(NDX_ERR_FORMAT, "checkpoint %s: has no array '%s'", path,
                             arrays[i].name);
        if (ents[j].count != arrays[i].count)
            return ndx__fail(NDX_ERR_SHAPE, "checkpoint %s: array '%s' has %llu floats, "
                             "expected %zu", path, arrays[i].name,
                             (unsigned long long)ents[j].count, arrays[i].count);
        at[i] = j;
    }
    if ((uint32_t)n_arrays == na) return NDX_OK;
    for (uint32_t j = 0; j < na; j++) {
        int i = 0;
        while (i < n_arrays && strcmp(ents[j].name, arrays[i].name)) i++;
        if (i == n_arrays)
            return ndx__fail(NDX_ERR_FORMAT, "checkpoint %s: unexpected array '%s'", path,
                             ents[j].name);
    }
    return ndx__fail(NDX_ERR_FORMAT, "checkpoint %s: an array appears twice", path);
}

ndx_status ndx_ckpt_load(const char *path, ndx_ckpt_state *st,
                         const ndx_ckpt_array *arrays, int n_arrays)
{
    if (!path || !st)
        return ndx__fail(NDX_ERR_INVALID, "checkpoint: path and state must not be NULL");
    ndx_status rc = check_arrays(path, arrays, n_arrays);
    if (rc) return rc;
    unsigned char hd[CKPT_HEADER];
    uint64_t size = 0;
    FILE *f = NULL;
    if ((rc = ckpt_open(path, &f, hd, &size))) return rc;
    const uint32_t na = get_u32(hd + 84);
    entry *ents = calloc(na ? na : 1, sizeof *ents);
    uint32_t *at = calloc(n_arrays ? (size_t)n_arrays : 1, sizeof *at);
    ndx_ckpt_state s;
    if (!ents || !at)
        rc = ndx__fail(NDX_ERR_NOMEM, "checkpoint %s: out of memory", path);
    if (!rc) rc = ckpt_meta(path, f, hd, size, &s, ents);
    if (!rc) rc = ckpt_match(path, ents, na, arrays, n_arrays, at);
    for (int i = 0; !rc && i < n_arrays; i++)
        if (fseeko(f, (off_t)ents[at[i]].offset, SEEK_SET) != 0 ||
            fread(arrays[i].data, 4, arrays[i].count, f) != arrays[i].count)
            rc = ndx__fail(NDX_ERR_IO, "checkpoint %s: read error in array '%s'", path,
                           arrays[i].name);
    if (!rc) *st = s;
    free(ents);
    free(at);
    fclose(f);
    return rc;
}

ndx_status ndx_ckpt_peek(const char *path, ndx_ckpt_state *st)
{
    if (!path || !st)
        return ndx__fail(NDX_ERR_INVALID, "checkpoint: path and state must not be NULL");
    unsigned char hd[CKPT_HEADER];
    uint64_t size = 0;
    FILE *f = NULL;
    ndx_status rc = ckpt_open(path, &f, hd, &size);
    if (rc) return rc;
    const uint32_t na = get_u32(hd + 84);
    entry *ents = calloc(na ? na : 1, sizeof *ents);
    ndx_ckpt_state s;
    rc = ents ? ckpt_meta(path, f, hd, size, &s, ents)
              : ndx__fail(NDX_ERR_NOMEM, "checkpoint %s: out of memory", path);
    if (!rc) *st = s;
    free(ents);
    fclose(f);
    return rc;
}

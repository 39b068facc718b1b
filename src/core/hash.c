/* XXH3-64 from Debian's libxxhash. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "core.h"

struct ndx_hasher { XXH3_state_t *st; };

uint64_t ndx_hash64(const void *data, size_t len, uint64_t seed)
{
    return XXH3_64bits_withSeed(data, len, seed);
}

uint64_t ndx_hash_str(const char *s, uint64_t seed)
{
    return XXH3_64bits_withSeed(s, strlen(s), seed);
}

ndx_hasher *ndx_hasher_new(uint64_t seed)
{
    ndx_hasher *h = malloc(sizeof *h);
    if (!h) {
        ndx__fail(NDX_ERR_NOMEM, "hasher: out of memory");
        return NULL;
    }
    h->st = XXH3_createState();
    if (!h->st || XXH3_64bits_reset_withSeed(h->st, seed) != XXH_OK) {
        XXH3_freeState(h->st);
        free(h);
        ndx__fail(NDX_ERR_NOMEM, "hasher: out of memory");
        return NULL;
    }
    return h;
}

void ndx_hasher_update(ndx_hasher *h, const void *data, size_t len)
{
    XXH3_64bits_update(h->st, data, len);
}

uint64_t ndx_hasher_digest(const ndx_hasher *h) { return XXH3_64bits_digest(h->st); }

void ndx_hasher_free(ndx_hasher *h)
{
    if (!h) return;
    XXH3_freeState(h->st);
    free(h);
}

ndx_status ndx_hash_file(const char *path, uint64_t seed, uint64_t *out)
{
    if (!path || !out) return ndx__fail(NDX_ERR_INVALID, "hash_file: NULL argument");
    FILE *f = fopen(path, "rb");
    if (!f) return ndx__fail(NDX_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    ndx_hasher *h = ndx_hasher_new(seed);
    unsigned char *buf = malloc(1 << 16);
    ndx_status st = h && buf ? NDX_OK : ndx__fail(NDX_ERR_NOMEM, "%s: out of memory", path);
    size_t n;
    while (!st && (n = fread(buf, 1, 1 << 16, f)) > 0) ndx_hasher_update(h, buf, n);
    if (!st && ferror(f)) st = ndx__fail(NDX_ERR_IO, "%s: read error: %s", path, strerror(errno));
    if (!st) *out = ndx_hasher_digest(h);
    ndx_hasher_free(h);
    free(buf);
    fclose(f);
    return st;
}

/* XXH3-64 from Debian's libxxhash. */
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

/* xoshiro256** (Blackman and Vigna), seeded through splitmix64.  The state
 * is always the caller's: no hidden global generator. */
#include <math.h>

#include "core.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void ndx_rng_seed(ndx_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t ndx_rng_u64(ndx_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t ndx_rng_below(ndx_rng *r, uint64_t n)
{
    if (n == 0) return 0;
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;   /* reject the biased top */
    uint64_t x;
    do x = ndx_rng_u64(r);
    while (x >= limit);
    return x % n;
}

double ndx_rng_uniform(ndx_rng *r)
{
    return (double)(ndx_rng_u64(r) >> 11) * 0x1.0p-53;
}

double ndx_rng_normal(ndx_rng *r)
{
    double u1 = 1.0 - ndx_rng_uniform(r);           /* (0, 1] */
    double u2 = ndx_rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

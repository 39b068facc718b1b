/* Dissection state files: ndx_dissect_load of the input with its XXH3-64
 * appended (as fuzz_checkpoint: the parsing behind the checksum is what is
 * fuzzed), then what the outputs read of a loaded state: every unit's
 * summary and top-k (units.csv, the unit images), which must be
 * consistent: finite scores once a patch was seen, every top-k score its
 * map's value at its argmax and at most the unit's max score. */
#include "fuzz.h"

#include <math.h>
#include "netdx_dissect.h"

static void use(const ndx_dissect *d)
{
    int units, h, w, topk, nmasks;
    ndx_dissect_dims(d, &units, &h, &w, &topk, &nmasks);
    if (units < 1 || h < 1 || w < 1 || topk < 1 || nmasks < 1 || nmasks > NDX_DISSECT_MAX_MASKS)
        abort();
    ndx_dissect_top *top = malloc((size_t)topk * sizeof *top);
    if (!top) abort();
    for (int u = 0; u < units; u++) {
        ndx_dissect_unit info;
        int n = -1;
        if (ndx_dissect_unit_info(d, u, &info) != NDX_OK) abort();
        /* what units.csv prints: finite once a patch was seen */
        const int seen = ndx_dissect_patches(d, 0) > 0;
        if (seen && !(isfinite(info.max_score) && isfinite(info.mean_score))) abort();
        if (info.ntop < 0 || info.ntop > topk) abort();
        if (ndx_dissect_unit_top(d, u, top, &n) != NDX_OK || n != info.ntop) abort();
        for (int i = 0; i < n; i++)
            if (top[i].argmax < 0 || top[i].argmax >= h * w ||
                top[i].map[top[i].argmax] != top[i].score || !(top[i].score <= info.max_score))
                abort();
    }
    free(top);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *file = malloc(size + 8);
    if (!file) abort();
    if (size) memcpy(file, data, size);
    const uint64_t hs = ndx_hash64(data, size, 0);
    for (int i = 0; i < 8; i++) file[size + (size_t)i] = (uint8_t)(hs >> (8 * i));
    const char *path = fuzz_file(file, size + 8);
    free(file);
    ndx_dissect *d = NULL;
    fuzz_reset();
    ndx_status st = ndx_dissect_load(path, &d);
    fuzz_check(st, "ndx_dissect_load");
    if (st == NDX_OK) {
        use(d);
        ndx_dissect_free(d);
    } else if (d) {
        abort();
    }
    return 0;
}

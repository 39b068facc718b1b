/* Training checkpoints: ndx_ckpt_load of the input with its XXH3-64
 * appended (the checksum is no secret: anyone can re-seal a file, so what
 * is fuzzed is the parsing behind it), asked for two arrays, "w" of 6
 * floats and "b" of 2 (fuzz/corpus/fuzz_checkpoint holds files without
 * their last 8 bytes). */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *file = malloc(size + 8);
    if (!file) abort();
    if (size) memcpy(file, data, size);
    const uint64_t h = ndx_hash64(data, size, 0);
    for (int i = 0; i < 8; i++) file[size + (size_t)i] = (uint8_t)(h >> (8 * i));
    const char *path = fuzz_file(file, size + 8);
    free(file);
    float w[6], b[2];
    const ndx_ckpt_array arrays[2] = {{"w", w, 6}, {"b", b, 2}};
    ndx_ckpt_state st;
    fuzz_reset();
    ndx_status rc = ndx_ckpt_load(path, &st, arrays, 2);
    fuzz_check(rc, "ndx_ckpt_load");
    if (rc == NDX_OK) {
        /* a position no run can be at is no checkpoint (issue 18, class 1) */
        if (st.epoch < 0 || st.batch < 0 || st.step < 0) abort();
        if (st.n_scalars < 0 || st.n_scalars > NDX_CKPT_MAX_SCALARS) abort();
        for (int i = 0; i < st.n_scalars; i++)
            if (!memchr(st.scalars[i].name, 0, sizeof st.scalars[i].name)) abort();
    }
    return 0;
}

/* .npy: ndx_npy_read (magic, version, the header dict, the shape against
 * the file's size before allocating). */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(data, size);
    ndx_tensor t;
    fuzz_reset();
    ndx_status st = ndx_npy_read(path, &t);
    fuzz_check(st, "ndx_npy_read");
    if (st == NDX_OK) {
        if (t.ndim < 1 || t.ndim > NDX_MAX_DIMS || !t.data ||
            (uint64_t)ndx_tensor_numel(&t) * 4 > size)
            abort();
        ndx_tensor_free(&t);
    }
    return 0;
}

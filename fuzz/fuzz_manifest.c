/* manifest.csv: ndx_manifest_read (the CSV reader, the header, every
 * field's range and vocabulary), then ndx_lesion_kind of every row. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(data, size);
    ndx_manifest m;
    fuzz_reset();
    ndx_status st = ndx_manifest_read(path, &m);
    fuzz_check(st, "ndx_manifest_read");
    if (st == NDX_OK) {
        for (size_t i = 0; i < m.n; i++) {
            const int k = ndx_lesion_kind(&m.rows[i]);
            if (k < -1 || k >= NDX_LESION_KINDS) abort();
        }
        ndx_manifest_free(&m);
    }
    return 0;
}

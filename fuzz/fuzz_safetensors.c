/* safetensors: the format (ndx__st_open: header length, JSON, entries,
 * offsets tiling the data; ndx__st_read of every tensor, converted to
 * float32 where it is a float) and the model loader on top of it
 * (ndx_safetensors_load_into a `tiny` network: names, dtypes, shapes). */
#include "fuzz.h"
#include "netdx_nn.h"
#include "../src/io/safetensors.h"

static ndx_net *net;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    if (ndx_zoo_build("tiny", 2, 0, 0, &net) != NDX_OK) {
        fprintf(stderr, "fuzz_safetensors: %s\n", ndx_last_error());
        abort();
    }
    return 0;
}

static void read_all(ndx__st *s)
{
    for (int i = 0; i < s->n; i++) {
        const ndx__st_entry *e = &s->e[i];
        if (e->end < e->begin || e->end - e->begin > s->data_size || e->name == NULL) abort();
        if (!ndx__st_is_float(e)) continue;
        float *dst = malloc(e->numel ? (size_t)e->numel * sizeof *dst : 1);
        if (!dst) abort();
        fuzz_reset();
        fuzz_check(ndx__st_read(s, e, dst), "ndx__st_read");
        free(dst);
    }
    (void)ndx__st_meta(s, "arch");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(data, size);
    ndx__st s;
    fuzz_reset();
    ndx_status st = ndx__st_open(&s, path);
    fuzz_check(st, "ndx__st_open");
    if (st == NDX_OK) {
        read_all(&s);
        ndx__st_close(&s);
        fuzz_reset();
        fuzz_check(ndx_safetensors_load_into(net, path, 0), "ndx_safetensors_load_into");
    }
    return 0;
}

/* safetensors: an 8-byte little-endian header length N, N bytes of JSON
 *   {"NAME": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]},
 *    ..., "__metadata__": {"arch": "resnet18", "num_classes": "2", ...}}
 * then the raw little-endian tensors (offsets relative to the end of the
 * header).  cJSON parses the header.  Reading converts F16 and BF16 to
 * float32; writing is F32 (plus num_batches_tracked as I64 0, so PyTorch's
 * strict load_state_dict accepts the file).  Tensors are read straight into
 * the net's parameter blocks, in pieces for the converted types.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../nn/nn_internal.h"

#define MAX_HEADER (256u << 20)

int ndx__net_is_head_tensor(const ndx_net *net, int tensor);

typedef struct {
    FILE *f;
    cJSON *root;
    uint64_t hlen, data_size;   /* bytes of header, bytes after it */
} st_file;

static void st_close(st_file *s)
{
    if (s->f) fclose(s->f);
    cJSON_Delete(s->root);
    memset(s, 0, sizeof *s);
}

static ndx_status st_open(st_file *s, const char *path)
{
    memset(s, 0, sizeof *s);
    s->f = fopen(path, "rb");
    if (!s->f) return ndx__fail(NDX_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(s->f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        st_close(s);
        return ndx__fail(NDX_ERR_IO, "%s: not a regular file", path);
    }
    unsigned char b[8];
    if (fseeko(s->f, 0, SEEK_END) != 0) goto io;
    off_t size = ftello(s->f);
    if (size < 0 || fseeko(s->f, 0, SEEK_SET) != 0) goto io;
    if (size < 8 || fread(b, 1, 8, s->f) != 8) {
        st_close(s);
        return ndx__fail(NDX_ERR_FORMAT, "%s: truncated file: %lld bytes, no safetensors header",
                         path, (long long)size);
    }
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | b[i];
    if (n == 0 || n > MAX_HEADER || n > (uint64_t)size - 8) {
        st_close(s);
        return ndx__fail(NDX_ERR_FORMAT, "%s: bad header: length %" PRIu64 " in a file of %lld "
                         "bytes", path, n, (long long)size);
    }
    char *h = malloc(n + 1);
    if (!h) {
        st_close(s);
        return ndx__fail(NDX_ERR_NOMEM, "%s: header of %" PRIu64 " bytes", path, n);
    }
    if (fread(h, 1, n, s->f) != n) {
        free(h);
        goto io;
    }
    h[n] = 0;
    s->root = cJSON_ParseWithLength(h, n);
    if (!s->root || !cJSON_IsObject(s->root)) {
        const char *e = cJSON_GetErrorPtr();
        long at = s->root ? 0 : (e && e >= h && e <= h + n ? (long)(e - h) : -1);
        free(h);
        st_close(s);
        return ndx__fail(NDX_ERR_FORMAT, "%s: bad header: not a JSON object (error near byte %ld "
                         "of the header)", path, at);
    }
    free(h);
    s->hlen = n;
    s->data_size = (uint64_t)size - 8 - n;
    return NDX_OK;
io:
    st_close(s);
    return ndx__fail(NDX_ERR_IO, "%s: read error", path);
}

static const char *meta_str(const st_file *s, const char *key)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(s->root, "__metadata__");
    const cJSON *v = m ? cJSON_GetObjectItemCaseSensitive(m, key) : NULL;
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int meta_int(const st_file *s, const char *key)
{
    const char *v = meta_str(s, key);
    if (!v) return 0;
    char *end;
    long x = strtol(v, &end, 10);
    return (*end || end == v || x < 1 || x > 1000000) ? -1 : (int)x;
}

ndx_status ndx_safetensors_meta(const char *path, char *arch, size_t archsz, int *num_classes,
                                int *input_size)
{
    st_file s;
    ndx_status st = st_open(&s, path);
    if (st) return st;
    const char *a = meta_str(&s, "arch");
    if (arch && archsz) snprintf(arch, archsz, "%s", a ? a : "");
    int nc = meta_int(&s, "num_classes"), is = meta_int(&s, "input_size");
    st_close(&s);
    if (nc < 0 || is < 0)
        return ndx__fail(NDX_ERR_FORMAT, "%s: __metadata__ %s is not a positive integer", path,
                         nc < 0 ? "num_classes" : "input_size");
    if (is > 8192)
        return ndx__fail(NDX_ERR_FORMAT, "%s: __metadata__ input_size %d is out of 1..8192", path,
                         is);
    if (num_classes) *num_classes = nc;
    if (input_size) *input_size = is;
    return NDX_OK;
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

static float bf16_to_f32(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* Reads count elements of dtype (0 F32, 1 F16, 2 BF16) into dst. */
static int read_tensor(FILE *f, int dtype, float *dst, size_t count)
{
    if (dtype == 0) {
        if (fread(dst, 4, count, f) != count) return -1;
        const uint16_t one = 1;
        if (*(const unsigned char *)&one == 0)   /* big-endian host */
            for (size_t i = 0; i < count; i++) {
                unsigned char *b = (unsigned char *)&dst[i], t;
                t = b[0], b[0] = b[3], b[3] = t, t = b[1], b[1] = b[2], b[2] = t;
            }
        return 0;
    }
    unsigned char buf[8192];
    for (size_t done = 0; done < count;) {
        size_t k = count - done < 4096 ? count - done : 4096;
        if (fread(buf, 2, k, f) != k) return -1;
        for (size_t i = 0; i < k; i++) {
            uint16_t h = (uint16_t)(buf[2 * i] | buf[2 * i + 1] << 8);
            dst[done + i] = dtype == 1 ? f16_to_f32(h) : bf16_to_f32(h);
        }
        done += k;
    }
    return 0;
}

static int ignored(const char *name)
{
    size_t n = strlen(name);
    return (n >= 19 && !strcmp(name + n - 19, "num_batches_tracked")) ||
           !strncmp(name, "AuxLogits.", 10);
}

/* Largest integer a double holds exactly: shapes and offsets beyond it are refused. */
#define MAX_EXACT 9007199254740992.0

/* v is a JSON number holding an integer in 0..hi. */
static int is_count(const cJSON *v, double hi)
{
    if (!cJSON_IsNumber(v)) return 0;
    double d = v->valuedouble;
    return d >= 0 && d <= hi && d == (double)(int64_t)d;
}

/* Validates every entry first (names, dtypes, shapes, offsets), then
 * copies, so a bad file leaves the net's weights untouched. */
ndx_status ndx_safetensors_load_into(ndx_net *net, const char *path, int flags)
{
    if (!net || !net->finished) return ndx__fail(NDX_ERR_INVALID, "%s: net not finished", path);
    st_file s;
    ndx_status st = st_open(&s, path);
    if (st) return st;
    /* per net tensor: 0 absent, 1 to read, 2 skipped head; its dtype and offset */
    struct plan { char state, dtype; uint64_t begin; } *plan =
        calloc((size_t)net->ntensors + 1, sizeof *plan);
    if (!plan) {
        st_close(&s);
        return ndx__fail(NDX_ERR_NOMEM, "%s: out of memory", path);
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, s.root) {
        const char *name = e->string;
        if (!strcmp(name, "__metadata__")) continue;
        if (!cJSON_IsObject(e)) {
            st = ndx__fail(NDX_ERR_FORMAT, "%s: bad header: entry %s is not an object", path, name);
            goto out;
        }
        const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
        const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
        const cJSON *of = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
        if (!cJSON_IsString(dt) || !cJSON_IsArray(sh) || !cJSON_IsArray(of) ||
            cJSON_GetArraySize(of) != 2) {
            st = ndx__fail(NDX_ERR_FORMAT, "%s: bad header: tensor %s lacks dtype, shape or "
                           "data_offsets", path, name);
            goto out;
        }
        if (ignored(name)) continue;
        int t = -1;
        for (int i = 0; i < net->ntensors; i++)
            if (!strcmp(net->tensors[i].name, name)) t = i;
        if (t < 0) {
            st = ndx__fail(NDX_ERR_FORMAT, "%s: extra tensor %s: %s has no such parameter", path,
                           name, net->arch);
            goto out;
        }
        if ((flags & NDX_LOAD_EXCEPT_HEAD) && ndx__net_is_head_tensor(net, t)) {
            plan[t].state = 2;
            continue;
        }
        const ndx__tensor *tt = &net->tensors[t];
        int dtype = !strcmp(dt->valuestring, "F32") ? 0 : !strcmp(dt->valuestring, "F16") ? 1
                    : !strcmp(dt->valuestring, "BF16") ? 2 : -1;
        if (dtype < 0) {
            st = ndx__fail(NDX_ERR_FORMAT, "%s: tensor %s has dtype %s (F32, F16, BF16 read)",
                           path, name, dt->valuestring);
            goto out;
        }
        int nd = cJSON_GetArraySize(sh), ok = nd == tt->ndim;
        if (nd > NDX_MAX_DIMS) {
            st = ndx__fail(NDX_ERR_SHAPE, "%s: tensor %s has %d dimensions, at most %d are read",
                           path, name, nd, NDX_MAX_DIMS);
            goto out;
        }
        char got[128] = "(", want[128] = "(";
        for (int d = 0; d < nd; d++) {
            const cJSON *v = cJSON_GetArrayItem(sh, d);
            if (!is_count(v, MAX_EXACT)) {
                st = ndx__fail(NDX_ERR_FORMAT, "%s: bad header: dimension %d of tensor %s is not "
                               "a non-negative integer", path, d, name);
                goto out;
            }
            int64_t dv = (int64_t)v->valuedouble;
            if (d < tt->ndim && dv != tt->shape[d]) ok = 0;
            size_t l = strlen(got);
            snprintf(got + l, sizeof got - l, "%s%" PRId64, d ? "," : "", dv);
        }
        for (int d = 0; d < tt->ndim; d++) {
            size_t l = strlen(want);
            snprintf(want + l, sizeof want - l, "%s%" PRId64, d ? "," : "", tt->shape[d]);
        }
        size_t lg = strlen(got), lw = strlen(want);
        snprintf(got + lg, sizeof got - lg, ")");
        snprintf(want + lw, sizeof want - lw, ")");
        if (!ok) {
            st = ndx__fail(NDX_ERR_SHAPE, "%s: tensor %s has shape %s, %s needs %s", path, name,
                           got, net->arch, want);
            goto out;
        }
        const cJSON *b0 = cJSON_GetArrayItem(of, 0), *b1 = cJSON_GetArrayItem(of, 1);
        const size_t esz = dtype ? 2 : 4;
        if (!is_count(b0, MAX_EXACT) || !is_count(b1, MAX_EXACT) ||
            b1->valuedouble - b0->valuedouble != (double)(tt->numel * esz)) {
            st = ndx__fail(NDX_ERR_FORMAT, "%s: bad header: data_offsets of tensor %s do not "
                           "hold %zu %s values", path, name, tt->numel, dt->valuestring);
            goto out;
        }
        if (b1->valuedouble > (double)s.data_size) {
            st = ndx__fail(NDX_ERR_FORMAT, "%s: truncated file: tensor %s ends at byte %.0f of "
                           "the data, the file holds %" PRIu64, path, name, b1->valuedouble,
                           s.data_size);
            goto out;
        }
        plan[t].state = 1;
        plan[t].dtype = (char)dtype;
        plan[t].begin = (uint64_t)b0->valuedouble;
    }
    for (int i = 0; i < net->ntensors; i++)
        if (!plan[i].state) {
            st = ndx__fail(NDX_ERR_FORMAT, "%s: missing tensor %s (%s needs it)", path,
                           net->tensors[i].name, net->arch);
            goto out;
        }
    for (int i = 0; i < net->ntensors; i++) {
        const ndx__tensor *tt = &net->tensors[i];
        if (plan[i].state != 1) continue;
        if (fseeko(s.f, (off_t)(8 + s.hlen + plan[i].begin), SEEK_SET) != 0 ||
            read_tensor(s.f, plan[i].dtype, (tt->is_buffer ? net->buffers : net->params) + tt->off,
                        tt->numel)) {
            st = ndx__fail(NDX_ERR_IO, "%s: read error in tensor %s", path, tt->name);
            break;
        }
    }
    ndx__net_weights_changed(net);
out:
    free(plan);
    st_close(&s);
    return st;
}

ndx_status ndx_safetensors_save(const ndx_net *net, const char *path)
{
    if (!net || !net->finished) return ndx__fail(NDX_ERR_INVALID, "%s: net not finished", path);
    if (net->folded)
        return ndx__fail(NDX_ERR_INVALID, "%s: net %s was folded for inference in place "
                         "(NDX_PLAN_INFER_FOLDED); its weights are not torchvision's", path,
                         net->arch);
    cJSON *root = cJSON_CreateObject();
    if (!root) return ndx__fail(NDX_ERR_NOMEM, "%s: out of memory", path);
    uint64_t off = 0;
    int ok = 1;
    for (int i = 0; i < net->ntensors && ok; i++) {
        const ndx__tensor *t = &net->tensors[i];
        cJSON *e = cJSON_AddObjectToObject(root, t->name);
        cJSON *sh = e ? cJSON_AddArrayToObject(e, "shape") : NULL;
        cJSON *of = e ? cJSON_AddArrayToObject(e, "data_offsets") : NULL;
        ok = e && sh && of && cJSON_AddStringToObject(e, "dtype", "F32");
        for (int d = 0; ok && d < t->ndim; d++)
            ok = cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)t->shape[d]));
        ok = ok && cJSON_AddItemToArray(of, cJSON_CreateNumber((double)off));
        off += 4 * (uint64_t)t->numel;
        ok = ok && cJSON_AddItemToArray(of, cJSON_CreateNumber((double)off));
        if (ok && t->kind == T_BN_RV) {   /* after running_var, as in PyTorch */
            char nb[NDX_NAME_MAX + 32];
            snprintf(nb, sizeof nb, "%.*s.num_batches_tracked",
                     (int)(strlen(t->name) - strlen(".running_var")), t->name);
            cJSON *b = cJSON_AddObjectToObject(root, nb);
            cJSON *bs = b ? cJSON_AddArrayToObject(b, "shape") : NULL;
            cJSON *bo = b ? cJSON_AddArrayToObject(b, "data_offsets") : NULL;
            ok = b && bs && bo && cJSON_AddStringToObject(b, "dtype", "I64") &&
                 cJSON_AddItemToArray(bo, cJSON_CreateNumber((double)off)) &&
                 cJSON_AddItemToArray(bo, cJSON_CreateNumber((double)(off + 8)));
            off += 8;
        }
    }
    char num[32];
    cJSON *m = ok ? cJSON_AddObjectToObject(root, "__metadata__") : NULL;
    ok = m && cJSON_AddStringToObject(m, "arch", net->arch);
    snprintf(num, sizeof num, "%d", ndx_net_num_classes(net));
    ok = ok && cJSON_AddStringToObject(m, "num_classes", num);
    snprintf(num, sizeof num, "%d", ndx_net_input_size(net));
    ok = ok && cJSON_AddStringToObject(m, "input_size", num);
    ok = ok && cJSON_AddStringToObject(m, "format", "pt");
    char *h = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!h) return ndx__fail(NDX_ERR_NOMEM, "%s: out of memory building the header", path);
    size_t hl = strlen(h), pad = (8 - hl % 8) % 8;
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmpXXXXXX", path) >= (int)sizeof tmp) {
        free(h);
        return ndx__fail(NDX_ERR_INVALID, "%s: path too long", path);
    }
    int fd = mkstemp(tmp);
    if (fd >= 0) (void)fchmod(fd, 0644);   /* mkstemp makes 0600; outputs are for reading */
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!f) {
        if (fd >= 0) close(fd), unlink(tmp);
        free(h);
        return ndx__fail(NDX_ERR_IO, "%s: cannot create a temporary file: %s", path,
                         strerror(errno));
    }
    unsigned char lb[8];
    uint64_t n = hl + pad;
    for (int i = 0; i < 8; i++) lb[i] = (unsigned char)(n >> (8 * i));
    ok = fwrite(lb, 1, 8, f) == 8 && fwrite(h, 1, hl, f) == hl &&
         fwrite("        ", 1, pad, f) == pad;
    free(h);
    for (int i = 0; i < net->ntensors && ok; i++) {
        const ndx__tensor *t = &net->tensors[i];
        const float *d = (t->is_buffer ? net->buffers : net->params) + t->off;
        ok = fwrite(d, 4, t->numel, f) == t->numel;
        if (ok && t->kind == T_BN_RV) ok = fwrite("\0\0\0\0\0\0\0\0", 1, 8, f) == 8;
    }
    if (fclose(f) != 0) ok = 0;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return ndx__fail(NDX_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    }
    return NDX_OK;
}

static int default_size(const char *arch)
{
    return !strcmp(arch, "inception_v3") ? 299 : !strcmp(arch, "tiny") ? 64 : 224;
}

ndx_status ndx_net_load(const char *path, ndx_net **out)
{
    *out = NULL;
    char arch[32];
    int nc, size;
    ndx_status st = ndx_safetensors_meta(path, arch, sizeof arch, &nc, &size);
    if (st) return st;
    if (!arch[0])
        return ndx__fail(NDX_ERR_FORMAT, "%s: no arch in __metadata__ (write it with "
                         "tools/export_torchvision.py)", path);
    if (!nc) return ndx__fail(NDX_ERR_FORMAT, "%s: no num_classes in __metadata__", path);
    ndx_net *net;
    st = ndx_zoo_build(arch, nc, size ? size : default_size(arch), 0, &net);
    if (st) {
        char why[768];
        snprintf(why, sizeof why, "%s", ndx_last_error());
        return ndx__fail(st, "%s: building the net of its __metadata__ failed: %s", path, why);
    }
    st = ndx_safetensors_load_into(net, path, 0);
    if (st) {
        ndx_net_free(net);
        return st;
    }
    *out = net;
    return NDX_OK;
}

ndx_status ndx_net_load_finetune(const char *path, const char *arch, int num_classes,
                                 int input_size, uint64_t seed, ndx_net **out)
{
    ndx_net *net;
    *out = NULL;
    ndx_status st = ndx_zoo_build(arch, num_classes, input_size, seed, &net);
    if (st) return st;
    st = ndx_safetensors_load_into(net, path, NDX_LOAD_EXCEPT_HEAD);
    if (st) {
        ndx_net_free(net);
        return st;
    }
    ndx_net_reset_head(net, seed);
    *out = net;
    return NDX_OK;
}

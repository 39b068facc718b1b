/* Training options of issue 19, the pieces: the step-decay schedule, the
 * plain-shuffle sampler as the loop asks for it, three-class patch labels
 * from a hand-made manifest, one three-class training step against
 * PyTorch, and Inception-v3's transform_input against PyTorch
 * (tests/data/train3_tiny.gold and inception_ti.gold, written by
 * tools/gen_train_options_golden.py).  The training runs themselves are
 * tests/check_train_runs.c. */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "golden.h"
#include "netdx.h"
#include "netdx_nn.h"
#include "testutil.h"

/* ---- the schedule ----------------------------------------------------------- */

START_TEST(test_lr_schedule)
{
    ndx_train_opts o;
    ndx_train_defaults(&o);
    ck_assert_int_eq(o.lr_step, 0);
    ck_assert_double_eq(o.lr_gamma, 0.1);
    for (int e = 0; e < 20; e++) ck_assert_double_eq(ndx_train_lr(&o, e), o.lr);
    /* every 2 epochs x 0.5: the rate of epoch e by repeated multiplication */
    o.lr = 0.1, o.lr_step = 2, o.lr_gamma = 0.5;
    double want = 0.1;
    for (int e = 0; e < 12; e++) {
        if (e > 0 && e % 2 == 0) want *= 0.5;
        ck_assert_msg(fabs(ndx_train_lr(&o, e) - want) <= 1e-15 * want,
                      "epoch %d: %.17g, want %.17g", e, ndx_train_lr(&o, e), want);
    }
    /* the study's ResNet-152: 1e-4 for epochs 1-4, 1e-5 for epoch 5 */
    o.lr = 1e-4, o.lr_step = 4, o.lr_gamma = 0.1;
    for (int e = 0; e < 4; e++) ck_assert_double_eq(ndx_train_lr(&o, e), 1e-4);
    ck_assert_double_eq_tol(ndx_train_lr(&o, 4), 1e-5, 1e-20);
    o.lr_gamma = 1;
    ck_assert_double_eq(ndx_train_lr(&o, 9), 1e-4);
}
END_TEST

/* ---- the plain shuffle, as the loop builds it ----------------------------- */

START_TEST(test_shuffle_sampler)
{
    ndx_train_opts o;
    ndx_train_defaults(&o);
    ck_assert_int_eq(o.sampler, NDX_SAMPLER_BALANCED);   /* docs/training.md says why */
    enum { N = 301 };
    int y[N];
    for (int i = 0; i < N; i++) y[i] = i % 50 == 0 ? 2 : i % 7 == 0;   /* 3 classes, few 2s */
    ndx_sampler *s, *t;
    ck_assert_int_eq(ndx_sampler_new(y, N, 3, 0, 9, &s), NDX_OK);
    ck_assert_int_eq(ndx_sampler_new(y, N, 3, 0, 9, &t), NDX_OK);
    static uint32_t e0[N];
    for (uint64_t e = 0; e < 4; e++) {
        const uint32_t *a = ndx_sampler_epoch(s, e);
        int seen[N] = {0}, twos = 0;
        for (int i = 0; i < N; i++) {
            ck_assert_uint_lt(a[i], N);
            seen[a[i]]++;
            twos += y[a[i]] == 2;
        }
        for (int i = 0; i < N; i++) ck_assert_msg(seen[i] == 1, "epoch %d: patch %d seen %d "
                                                   "times", (int)e, i, seen[i]);
        ck_assert_int_eq(twos, 7);   /* unweighted: the classes as they are */
        if (e == 0) memcpy(e0, a, sizeof e0);
        else ck_assert(memcmp(e0, a, sizeof e0) != 0);
    }
    /* seeded: another sampler, asked out of order, gives the same epoch */
    ck_assert(memcmp(ndx_sampler_epoch(t, 0), e0, sizeof e0) == 0);
    ndx_sampler_free(t);
    ck_assert_int_eq(ndx_sampler_new(y, N, 3, 0, 10, &t), NDX_OK);
    ck_assert(memcmp(ndx_sampler_epoch(t, 0), e0, sizeof e0) != 0);
    ndx_sampler_free(s);
    ndx_sampler_free(t);
}
END_TEST

/* ---- three-class labels from a hand-made manifest ------------------------- */

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

/* A 200 x 200 image, one patient: a malignant band y in [96, 104) across
 * the whole width and a benign mass [140, 160)^2.  Windows of 100 px every
 * 50 px (3 x 3).  By hand: the rows of windows at y = 50 hold all 8 rows of
 * the band (50% of it) and are malignant; those at y = 0 and y = 100 hold 4
 * of its rows (25% of the lesion, 4% of the window: below the 30% rule) and
 * graze it; the benign mass lies in the windows at x, y in {50, 100}. */
START_TEST(test_three_class_labels)
{
    enum { W = 200, H = 200 };
    char dir[256], path[512];
    snprintf(dir, sizeof dir, "/tmp/ndx_check_options_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    static uint16_t px[W * H];
    static uint8_t band[W * H], benign[W * H];
    uint64_t seed = 4;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            px[y * W + x] = (uint16_t)(x < 150 ? 30000 + tu_int(&seed, 0, 2000)
                                               : tu_int(&seed, 0, 300));
            band[y * W + x] = y >= 96 && y < 104 ? 255 : 0;
            benign[y * W + x] = x >= 140 && x < 160 && y >= 140 && y < 160 ? 255 : 0;
        }
    snprintf(path, sizeof path, "%s/images", dir);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/masks", dir);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/images/a.png", dir);
    ck_assert_int_eq(ndx_png_write16(path, px, W, H), NDX_OK);
    snprintf(path, sizeof path, "%s/masks/a_1.png", dir);
    ck_assert_int_eq(ndx_png_write8(path, band, W, H, 1), NDX_OK);
    snprintf(path, sizeof path, "%s/masks/a_2.png", dir);
    ck_assert_int_eq(ndx_png_write8(path, benign, W, H, 1), NDX_OK);
    snprintf(path, sizeof path, "%s/manifest.csv", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("patient_id,breast_density,left_or_right_breast,image_view,abnormality_id,"
          "abnormality_type,mass_shape,mass_margins,calc_type,calc_distribution,assessment,"
          "pathology,subtlety,image_path,mask_path\n"
          "P_00001,2,LEFT,CC,1,mass,IRREGULAR,SPICULATED,,,5,MALIGNANT,4,images/a.png,"
          "masks/a_1.png\n"
          "P_00001,2,LEFT,CC,2,mass,OVAL,CIRCUMSCRIBED,,,2,BENIGN,3,images/a.png,"
          "masks/a_2.png\n", f);
    fclose(f);
    ndx_patch_opts po;
    ndx_patch_defaults(&po);
    po.window = 0.5, po.stride = 0.5, po.min_tissue = 0;
    ck_assert_msg(ndx_patches_build(dir, &po, NULL) == NDX_OK, "%s", ndx_last_error());
    ndx_patch_index ix;
    ck_assert_msg(ndx_patches_read(dir, &ix) == NDX_OK, "%s", ndx_last_error());
    ck_assert_uint_eq(ix.n, 9);
    int count[3] = {0, 0, 0};
    for (size_t i = 0; i < ix.n; i++) {
        const ndx_patch *p = &ix.patches[i];
        ck_assert_int_eq(p->w, 100);
        const int malignant = p->y == 50;
        const int has_benign = p->x >= 50 && p->y >= 50;
        const int want3 = malignant ? 2 : has_benign ? 1 : 0;
        ck_assert_msg(ndx_patch_class(p, 3) == want3, "window (%d,%d): class %d, want %d",
                      p->x, p->y, ndx_patch_class(p, 3), want3);
        ck_assert_int_eq(ndx_patch_class(p, 2), malignant);
        ck_assert_int_eq(p->label, malignant);
        count[want3]++;
    }
    ck_assert(count[0] == 4 && count[1] == 2 && count[2] == 3);
    ck_assert_int_eq(ndx_patch_class(&ix.patches[0], 4), -1);
    ck_assert_int_eq(ndx_cancer_class(2), 1);
    ck_assert_int_eq(ndx_cancer_class(3), 2);
    ndx_patches_free(&ix);
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}
END_TEST

/* ---- one three-class training step against PyTorch ------------------------- */

static void close_rel(const float *got, const float *want, size_t n, double rtol,
                      const char *what)
{
    double scale = 0;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(want[i]));
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(fabs((double)got[i] - want[i]) <= rtol * scale + 1e-7,
                      "%s[%zu]: %.8g, PyTorch %.8g", what, i, (double)got[i], (double)want[i]);
}

static const float *grad_of(ndx_net *net, const char *name, size_t n)
{
    for (int i = 0; i < ndx_net_num_tensors(net); i++) {
        ndx_param_info p;
        ck_assert_int_eq(ndx_net_tensor(net, i, &p), NDX_OK);
        if (!strcmp(p.name, name)) {
            ck_assert_uint_eq(p.numel, n);
            return p.grad;
        }
    }
    ck_abort_msg("no tensor %s", name);
    return NULL;
}

START_TEST(test_three_class_step)
{
    gold_file g;
    gold_record r;
    gold_open(&g, "train3_tiny.gold");
    ck_assert(gold_next(&g, &r));
    gold_expect(&g, &r, 4, 7);
    const int seed = r.p[0], B = r.p[1], size = r.p[2], K = r.p[3];
    ck_assert_int_eq(K, 3);
    ndx_net *net;
    ck_assert_int_eq(ndx_zoo_build("tiny", K, size, 0, &net), NDX_OK);
    ck_assert_int_eq(ndx_net_num_classes(net), 3);
    ndx_net_init_hash(net, (uint64_t)seed);
    ck_assert_int_eq(ndx_net_plan(net, B, NDX_PLAN_TRAIN), NDX_OK);
    ck_assert_int_eq(ndx_net_forward(net, r.t[0].data, NDX_TRAIN, -1), NDX_OK);
    ndx_tensor z;
    ck_assert_int_eq(ndx_net_output(net, ndx_net_num_nodes(net) - 1, &z), NDX_OK);
    ck_assert_uint_eq((size_t)ndx_tensor_numel(&z), (size_t)B * K);
    close_rel(z.data, r.t[2].data, r.t[2].n, 1e-4, "logits");
    int labels[8];
    for (int i = 0; i < B; i++) labels[i] = (int)r.t[1].data[i];
    /* the loss by hand: mean of logsumexp(z) - z[label], in double */
    double hand = 0;
    for (int i = 0; i < B; i++) {
        const float *zi = z.data + (size_t)i * K;
        double m = zi[0], s = 0;
        for (int c = 1; c < K; c++) m = fmax(m, zi[c]);
        for (int c = 0; c < K; c++) s += exp(zi[c] - m);
        hand += m + log(s) - zi[labels[i]];
    }
    hand /= B;
    double loss = NAN;
    ndx_net_zero_grads(net);
    ck_assert_int_eq(ndx_net_loss_backward(net, labels, NULL, &loss), NDX_OK);
    ck_assert_msg(fabs(loss - hand) <= 1e-6 * fabs(hand), "loss %.9g, by hand %.9g", loss, hand);
    ck_assert_msg(fabs(loss - r.t[3].data[0]) <= 1e-4 * fabs(r.t[3].data[0]),
                  "loss %.9g, PyTorch %.9g", loss, (double)r.t[3].data[0]);
    close_rel(grad_of(net, "fc.weight", r.t[4].n), r.t[4].data, r.t[4].n, 1e-4, "fc.weight grad");
    close_rel(grad_of(net, "fc.bias", r.t[5].n), r.t[5].data, r.t[5].n, 1e-4, "fc.bias grad");
    close_rel(grad_of(net, "features.0.weight", r.t[6].n), r.t[6].data, r.t[6].n, 1e-3,
              "features.0.weight grad");
    ndx_net_free(net);
    gold_record_free(&r);
    gold_close(&g);
}
END_TEST

/* ---- Inception-v3's transform_input against PyTorch ------------------------ */

static void eval_logits(ndx_net *net, const float *x, int B, float *out, size_t n)
{
    ck_assert_int_eq(ndx_net_plan(net, B, NDX_PLAN_INFER), NDX_OK);
    ck_assert_int_eq(ndx_net_forward(net, x, NDX_EVAL, -1), NDX_OK);
    ndx_tensor z;
    ck_assert_int_eq(ndx_net_output(net, ndx_net_num_nodes(net) - 1, &z), NDX_OK);
    ck_assert_uint_eq((size_t)ndx_tensor_numel(&z), n);
    memcpy(out, z.data, n * sizeof *out);
}

/* The gradient of the first convolution's weights after one training step
 * on x with dropout off: with transform_input on, backward must see the
 * transformed input. */
static void first_conv_grad(ndx_net *net, const float *x, int B, float *out, size_t n)
{
    ck_assert_int_eq(ndx_net_plan(net, B, NDX_PLAN_TRAIN), NDX_OK);
    ndx_net_set_dropout(net, 0);
    ck_assert_int_eq(ndx_net_forward(net, x, NDX_TRAIN, -1), NDX_OK);
    int labels[4] = {1, 0, 1, 0};
    ndx_net_zero_grads(net);
    ck_assert_int_eq(ndx_net_loss_backward(net, labels, NULL, NULL), NDX_OK);
    memcpy(out, grad_of(net, "Conv2d_1a_3x3.conv.weight", n), n * sizeof *out);
}

START_TEST(test_transform_input)
{
    gold_file g;
    gold_record r;
    gold_open(&g, "inception_ti.gold");
    ck_assert(gold_next(&g, &r));
    gold_expect(&g, &r, 4, 3);
    const int seed = r.p[0], B = r.p[1], size = r.p[2], K = r.p[3];
    ndx_net *net;
    ck_assert_int_eq(ndx_zoo_build("inception_v3", K, size, 0, &net), NDX_OK);
    ndx_net_init_hash(net, (uint64_t)seed);
    ck_assert_int_eq(ndx_net_transform_input(net), 0);
    float off[16], on[16];
    const size_t nz = r.t[1].n;
    ck_assert_uint_le(nz, 16);
    eval_logits(net, r.t[0].data, B, off, nz);
    double diff = 0;
    for (size_t i = 0; i < nz; i++) diff = fmax(diff, fabs(off[i] - r.t[1].data[i]));
    ck_assert_msg(diff > 1e-2, "without transform_input the logits already match (%g)", diff);
    ck_assert_int_eq(ndx_net_set_transform_input(net, 1), NDX_OK);
    ck_assert_int_eq(ndx_net_transform_input(net), 1);
    eval_logits(net, r.t[0].data, B, on, nz);
    close_rel(on, r.t[1].data, nz, 1e-4, "logits with transform_input");
    /* the first layer's output, its first 8 channels */
    const int t = ndx_net_find(net, "Conv2d_1a_3x3");
    ck_assert_int_ge(t, 0);
    ck_assert_int_eq(ndx_net_forward(net, r.t[0].data, NDX_EVAL, t), NDX_OK);
    ndx_tensor a;
    ck_assert_int_eq(ndx_net_output(net, t, &a), NDX_OK);
    const size_t hw = (size_t)a.shape[2] * a.shape[3];
    ck_assert_uint_eq(r.t[2].n, (size_t)B * 8 * hw);
    for (int b = 0; b < B; b++)
        close_rel(a.data + (size_t)b * a.shape[1] * hw, r.t[2].data + (size_t)b * 8 * hw, 8 * hw,
                  1e-4, "Conv2d_1a_3x3");
    /* saved and loaded: the metadata carries it */
    char path[256];
    snprintf(path, sizeof path, "/tmp/ndx_check_ti_%d.safetensors", (int)getpid());
    ck_assert_int_eq(ndx_safetensors_save(net, path), NDX_OK);
    ndx_net *back;
    ck_assert_msg(ndx_net_load(path, &back) == NDX_OK, "%s", ndx_last_error());
    ck_assert_int_eq(ndx_net_transform_input(back), 1);
    float again[16];
    eval_logits(back, r.t[0].data, B, again, nz);
    ck_assert_mem_eq(again, on, nz * sizeof *on);
    /* training: the same first-layer gradient as the plain net fed the
     * input transformed by hand (torchvision's formula) */
    const size_t hw0 = (size_t)size * size, nx = (size_t)B * 3 * hw0, ng = 32 * 3 * 3 * 3;
    float *xt = malloc(nx * sizeof *xt), *g_on = malloc(ng * sizeof *g_on),
          *g_off = malloc(ng * sizeof *g_off);
    const double scale[3] = {0.229 / 0.5, 0.224 / 0.5, 0.225 / 0.5},
                 shift[3] = {(0.485 - 0.5) / 0.5, (0.456 - 0.5) / 0.5, (0.406 - 0.5) / 0.5};
    for (size_t i = 0; i < nx; i++) {
        const int c = (int)(i / hw0 % 3);
        xt[i] = r.t[0].data[i] * (float)scale[c] + (float)shift[c];
    }
    first_conv_grad(back, r.t[0].data, B, g_on, ng);
    ck_assert_int_eq(ndx_net_set_transform_input(back, 0), NDX_OK);
    first_conv_grad(back, xt, B, g_off, ng);
    close_rel(g_on, g_off, ng, 1e-5, "first conv gradient");
    /* a file without the key loads without it */
    ck_assert_int_eq(ndx_safetensors_save(back, path), NDX_OK);
    ck_assert_int_eq(ndx_safetensors_load_into(net, path, 0), NDX_OK);
    ck_assert_int_eq(ndx_net_transform_input(net), 0);
    unlink(path);
    /* only Inception-v3 has the option */
    ndx_net *tiny;
    ck_assert_int_eq(ndx_zoo_build("tiny", 2, 32, 0, &tiny), NDX_OK);
    ck_assert_int_eq(ndx_net_set_transform_input(tiny, 1), NDX_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "tiny"));
    ck_assert_int_eq(ndx_net_transform_input(tiny), 0);
    free(xt), free(g_on), free(g_off);
    ndx_net_free(tiny);
    ndx_net_free(back);
    ndx_net_free(net);
    gold_record_free(&r);
    gold_close(&g);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("train_options");
    TCase *t = tcase_create("options");
    tcase_set_timeout(t, 300);
    tcase_add_test(t, test_lr_schedule);
    tcase_add_test(t, test_shuffle_sampler);
    tcase_add_test(t, test_three_class_labels);
    tcase_add_test(t, test_three_class_step);
    tcase_add_test(t, test_transform_input);
    suite_add_tcase(s, t);
    return tu_run(s);
}

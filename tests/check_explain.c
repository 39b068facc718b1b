/* netdx explain on a trained tiny model: a phantom lesion under the heat
 * map's maximum, the patch maps, the unit contributions and the windows'
 * maps by hand, the readers' labels, the outputs and bad input.  The
 * parts on small nets built by hand are in check_explain_units.c. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "netdx.h"
#include "netdx_dissect.h"
#include "netdx_explain.h"
#include "netdx_nn.h"
#include "netdx_report.h"
#include "testutil.h"
#include "dicom_fixture.h"
#include "explain_fixture.h"
#include "../src/dissect/rank_int.h"
#include "../src/explain/explain_int.h"

static char dir[256], data[320], model[320], model3[320], diss[320], bin[1024];

/* ---- fixture: phantoms, a trained tiny, its dissection -------------------- */

/* The fixture's work, in a child process: OpenMP's threads started in the
 * runner would be missing in the test processes Check forks from it, and
 * their first parallel region would wait for them for ever. */
static void build_fixture(void)
{
    ndx_synth_opts so;
    ndx_synth_defaults(&so);
    so.patients = 4, so.seed = 4, so.pixel_um = 400, so.normal_frac = 0;
    ndx_synth_stats ss;
    ck_assert_msg(ndx_synth(data, &so, &ss) == NDX_OK, "%s", ndx_last_error());
    ndx_patch_opts po;
    ndx_patch_defaults(&po);
    ndx_patch_stats ps;
    ck_assert_msg(ndx_patches_build(data, &po, &ps) == NDX_OK, "%s", ndx_last_error());
    ndx_train_opts to;
    ndx_train_defaults(&to);
    to.arch = "tiny", to.data_dir = data, to.out = model, to.input_size = 32;
    to.epochs = 3, to.batch = 16, to.lr = 0.02, to.flips = 1, to.seed = 1;
    double auc;
    ck_assert_msg(ndx_train(&to, &auc) == NDX_OK, "%s", ndx_last_error());
    ndx_net *net;
    ck_assert_int_eq(ndx_zoo_build("tiny", 3, 32, 5, &net), NDX_OK);
    ck_assert_int_eq(ndx_safetensors_save(net, model3), NDX_OK);
    ndx_net_free(net);
    ndx_dissect_run_opts d;
    ndx_dissect_run_defaults(&d);
    d.model = model, d.data = data, d.split = NDX_SPLIT_VAL, d.topk = 4, d.images = 4;
    d.layers[d.nlayers++] = "features.17";
    d.out = diss;
    ndx_dissect_run_result r;
    ck_assert_msg(ndx_dissect_run(&d, &r) == NDX_OK, "%s", ndx_last_error());
}

static void make_dir(void)
{
    strcpy(dir, "/tmp/ndx_check_explain_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(model, sizeof model, "%s/tiny.safetensors", dir);
    snprintf(model3, sizeof model3, "%s/tiny3.safetensors", dir);
    snprintf(diss, sizeof diss, "%s/dissection", dir);
    const pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        build_fixture();
        _exit(0);
    }
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "building the fixture (phantoms, training, dissection) failed");
}

static void remove_dir(void)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", dir);
}

/* The manifest row of the largest malignant lesion in a test image (any
 * split when the test split has none): its image and mask paths. */
static void malignant_image(char *image, char *mask, size_t n)
{
    ndx_patch_index ix;
    ck_assert_int_eq(ndx_patches_read(data, &ix), NDX_OK);
    long best = -1;
    int best_split = -1;
    image[0] = mask[0] = 0;
    for (size_t i = 0; i < ix.nimages; i++) {
        int split = -1;
        for (size_t p = 0; p < ix.n && split < 0; p++)
            if (ix.patches[p].image == (int)i) split = ix.patches[p].split;
        for (size_t r = ix.images[i].first_row; r < ix.images[i].first_row + ix.images[i].nrows;
             r++) {
            const ndx_manifest_row *row = &ix.manifest.rows[r];
            if (!row->mask_path[0] || strcmp(row->pathology, "MALIGNANT")) continue;
            char path[1100];
            snprintf(path, sizeof path, "%s/%s", data, row->mask_path);
            ndx_image m;
            ck_assert_int_eq(ndx_png_read(path, 0, &m, NULL, 0), NDX_OK);
            long area = 0;
            for (size_t k = 0; k < (size_t)m.w * m.h; k++) area += m.px[k] > m.maxval / 2;
            ndx_image_free(&m);
            const int better = (split == NDX_SPLIT_TEST) > (best_split == NDX_SPLIT_TEST) ||
                               ((split == NDX_SPLIT_TEST) == (best_split == NDX_SPLIT_TEST) &&
                                area > best);
            if (better) {
                best = area, best_split = split;
                snprintf(image, n, "%s/%s", data, ix.images[i].path);
                snprintf(mask, n, "%s", path);
            }
        }
    }
    ndx_patches_free(&ix);
    ck_assert_msg(best > 0, "no malignant lesion in the phantoms");
}

START_TEST(test_phantom_lesion_under_maximum)
{
    char image[1200], mask[1200];
    malignant_image(image, mask, sizeof image);
    ndx_explain_opts o;
    ndx_explain_defaults(&o);
    o.model = model, o.image = image;
    ndx_explain_result r;
    ck_assert_msg(ndx_explain(&o, &r) == NDX_OK, "%s", ndx_last_error());
    ndx_image m;
    ck_assert_int_eq(ndx_png_read(mask, 0, &m, NULL, 0), NDX_OK);
    ck_assert_int_eq(m.w, r.width);
    ck_assert_int_eq(m.h, r.height);
    /* the most malignant window holds lesion, and the 1x1-convolution map's
     * peak lies within a window's reach of the lesion */
    const int x0 = r.heat_peak_x - r.window / 2, y0 = r.heat_peak_y - r.window / 2;
    long in = 0, lx0 = m.w, ly0 = m.h, lx1 = -1, ly1 = -1;
    for (int y = 0; y < m.h; y++)
        for (int x = 0; x < m.w; x++) {
            if (m.px[(size_t)y * m.w + x] <= m.maxval / 2) continue;
            in += x >= x0 && x < x0 + r.window && y >= y0 && y < y0 + r.window;
            lx0 = x < lx0 ? x : lx0, lx1 = x > lx1 ? x : lx1;
            ly0 = y < ly0 ? y : ly0, ly1 = y > ly1 ? y : ly1;
        }
    ndx_image_free(&m);
    ck_assert_msg(in > 0, "%s: the heat map's maximum (window at %d, %d, side %d, p %.3f) "
                  "misses the lesion (box %ld..%ld x %ld..%ld)", image, x0, y0, r.window,
                  r.max_prob, lx0, lx1, ly0, ly1);
    ck_assert_msg(r.max_prob > 0.5, "max probability %.3f", r.max_prob);
    ck_assert(r.fcn);
    ck_assert_msg(r.fcn_peak_x >= lx0 - r.window && r.fcn_peak_x <= lx1 + r.window &&
                  r.fcn_peak_y >= ly0 - r.window && r.fcn_peak_y <= ly1 + r.window,
                  "1x1-conv peak (%d, %d) far from the lesion", r.fcn_peak_x, r.fcn_peak_y);
    ndx_explain_free(&r);
}
END_TEST

/* ---- the two patch maps on the trained tiny ------------------------------------ */

START_TEST(test_patch_maps)
{
    char image[1200], mask[1200];
    malignant_image(image, mask, sizeof image);
    ndx_explain_opts o;
    ndx_explain_defaults(&o);
    o.model = model, o.image = image;
    ndx_explain_result ex, fc;
    ck_assert_msg(ndx_explain(&o, &ex) == NDX_OK, "%s", ndx_last_error());
    ck_assert_str_eq(ex.patch_map, "exact");
    /* exact: every window's probability is the model's own (folded weights:
     * float rounding apart) */
    ndx_net *net;
    ck_assert_int_eq(ndx_net_load(model, &net), NDX_OK);
    ck_assert_int_eq(ndx_net_plan(net, 1, NDX_PLAN_INFER), NDX_OK);
    ndx_image img;
    ck_assert_int_eq(ndx_png_read(image, 0, &img, NULL, 0), NDX_OK);
    for (int g = 0; g < ex.grid_w * ex.grid_h; g++) {
        if (isnan(ex.patch_prob[g])) continue;
        double z;
        const double want = window_prob(net, &img, g % ex.grid_w * ex.step,
                                        g / ex.grid_w * ex.step, ex.window, &z);
        ck_assert_msg(fabs(ex.patch_prob[g] - want) < 1e-4, "window %d: %.6f, by hand %.6f", g,
                      ex.patch_prob[g], want);
    }
    ndx_image_free(&img);
    ndx_net_free(net);
    /* the units' maps from the whole image: the same patch map */
    ck_assert_str_eq(ex.unit_maps, "windows");
    o.unit_maps = NDX_EXPLAIN_MAPS_WHOLE;
    ck_assert_msg(ndx_explain(&o, &fc) == NDX_OK, "%s", ndx_last_error());
    ck_assert_str_eq(fc.unit_maps, "whole");
    ck_assert_str_eq(fc.patch_map, "exact");
    for (int g = 0; g < ex.grid_w * ex.grid_h; g++)
        ck_assert(isnan(ex.patch_prob[g]) ? isnan(fc.patch_prob[g])
                  : fabsf(ex.patch_prob[g] - fc.patch_prob[g]) < 1e-6f);
    ndx_explain_free(&ex);
    ex = fc;
    /* fcn: the same windows, from the same 1x1-convolution map */
    o.patch_map = NDX_EXPLAIN_PATCH_FCN, o.unit_maps = NDX_EXPLAIN_MAPS_WINDOWS;
    ck_assert_msg(ndx_explain(&o, &fc) == NDX_OK, "%s", ndx_last_error());
    ck_assert_str_eq(fc.unit_maps, "whole");   /* fcn needs the whole image's maps */
    ck_assert_str_eq(fc.patch_map, "fcn");
    ck_assert_int_eq(fc.windows, ex.windows);
    ck_assert_int_eq(fc.fcn_h * fc.fcn_w, ex.fcn_h * ex.fcn_w);
    for (int p = 0; p < fc.fcn_h * fc.fcn_w; p++)
        ck_assert_float_eq_tol(fc.fcn_prob[p], ex.fcn_prob[p], 1e-6);
    for (int g = 0; g < ex.grid_w * ex.grid_h; g++) {
        ck_assert_int_eq(isnan(fc.patch_prob[g]), isnan(ex.patch_prob[g]));
        ck_assert(isnan(fc.patch_prob[g]) || (fc.patch_prob[g] > 0 && fc.patch_prob[g] < 1));
    }
    for (int i = 0; i < fc.nunits; i++) {   /* the units do not depend on the patch map */
        ck_assert_int_eq(fc.unit[i].unit, ex.unit[i].unit);
        ck_assert_float_eq_tol(fc.unit[i].contribution, ex.unit[i].contribution, 1e-6);
    }
    ndx_explain_free(&fc);
    /* a layer that is not the pooled one has no map from the 1x1 convolution */
    ck_assert_int_eq(ndx_net_load(model, &net), NDX_OK);
    for (int i = 1; i < ndx_net_num_nodes(net) && !o.layer; i++)
        if (ndx_net_node_op(net, i) == NDX_OP_CONV) o.layer = ndx_net_node_name(net, i);
    ck_assert_int_eq(ndx_explain(&o, &fc), NDX_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "--patch-map fcn"));
    ndx_net_free(net);
    ndx_explain_free(&ex);
}
END_TEST

/* ---- contributions by hand ------------------------------------------------- */

START_TEST(test_contributions_by_hand)
{
    char image[1200], mask[1200];
    malignant_image(image, mask, sizeof image);
    ndx_explain_opts o;
    ndx_explain_defaults(&o);
    o.model = model, o.image = image, o.top = 64;
    o.unit_maps = NDX_EXPLAIN_MAPS_WHOLE;
    ndx_explain_result r;
    ck_assert_msg(ndx_explain(&o, &r) == NDX_OK, "%s", ndx_last_error());
    ck_assert_str_eq(r.method, "deepminer");
    ck_assert_str_eq(r.layer, "features.17");
    ck_assert_str_eq(r.unit_maps, "whole");
    /* by hand: the whole image through the net at the size that makes a
     * window the input, each unit's max x (w1 - w0) from the file's head */
    ndx_net *net;
    ck_assert_int_eq(ndx_net_load(model, &net), NDX_OK);
    ndx_param_info head;
    ck_assert_int_eq(ndx_net_tensor(net, ndx_net_num_tensors(net) - 2, &head), NDX_OK);
    ck_assert_int_eq(head.ndim, 2);
    ck_assert_int_eq(head.shape[0], 2);
    const int U = (int)head.shape[1];
    ck_assert_int_eq(U, r.units);
    ndx_image img;
    ck_assert_int_eq(ndx_png_read(image, 0, &img, NULL, 0), NDX_OK);
    float *gray = malloc(sizeof *gray * img.w * img.h);
    for (size_t i = 0; i < (size_t)img.w * img.h; i++) gray[i] = img.px[i] / (float)img.maxval;
    ndx_net *cache = NULL;
    ndx_tensor t;
    const int oh = (int)lround(img.h * 32.0 / r.window), ow = (int)lround(img.w * 32.0 / r.window);
    ck_assert_int_eq(ndx__rank_image_forward(net, &cache, ndx_net_find(net, "features.17"), gray,
                                             img.h, img.w, oh, ow, &t), NDX_OK);
    const size_t hw = (size_t)t.shape[2] * t.shape[3];
    float *c = malloc(sizeof *c * U);
    double decision = 0;
    for (int u = 0; u < U; u++) {
        float mx = -INFINITY;
        double mean = 0;
        for (size_t p = 0; p < hw; p++) mx = fmaxf(mx, t.data[u * hw + p]), mean += t.data[u * hw + p];
        const float w = head.data[U + u] - head.data[u];
        c[u] = mx * w;
        decision += mean / hw * w;
    }
    ndx_param_info bias;
    ck_assert_int_eq(ndx_net_tensor(net, ndx_net_num_tensors(net) - 1, &bias), NDX_OK);
    decision += bias.data[1] - bias.data[0];
    ck_assert_int_eq(r.nunits, 64);
    for (int i = 0; i < r.nunits; i++) {
        const ndx_explain_unit *e = &r.unit[i];
        int above = 0;   /* units with a larger contribution: exactly i */
        for (int u = 0; u < U; u++) above += c[u] > c[e->unit];
        ck_assert_msg(above == i, "rank %d: unit %d has %d units above it", i + 1, e->unit, above);
        ck_assert_msg(fabsf(e->contribution - c[e->unit]) <= 1e-5f + 1e-5f * fabsf(c[e->unit]),
                      "unit %d: %g, by hand %g", e->unit, e->contribution, c[e->unit]);
        ck_assert_float_eq_tol(e->weight, head.data[U + e->unit] - head.data[e->unit], 1e-7);
        float mx = -INFINITY;
        for (int p = 0; p < e->map_h * e->map_w; p++) mx = fmaxf(mx, e->map[p]);
        ck_assert_float_eq(mx, e->max_act);
    }
    ck_assert_msg(fabs(r.decision - decision) < 1e-4 + 1e-5 * fabs(decision),
                  "decision %g, by hand %g", r.decision, decision);
    /* and it is the mean of the 1x1-convolution logits over the map */
    double zmean = 0;
    for (int p = 0; p < r.fcn_h * r.fcn_w; p++) {
        const double q = fmin(fmax(r.fcn_prob[p], 1e-7), 1 - 1e-7);
        zmean += log(q / (1 - q));
    }
    zmean /= r.fcn_h * r.fcn_w;
    ck_assert_msg(fabs(zmean - decision) < 1e-3 + 1e-4 * fabs(decision), "mean logit %g vs %g",
                  zmean, decision);
    free(gray), free(c);
    ndx_image_free(&img);
    ndx_net_free(cache), ndx_net_free(net);
    ndx_explain_free(&r);
}
END_TEST

/* The default for pooled nets: the units' maps and the 1x1 convolution from
 * the windows' own maps of the layer, by hand: each classified window
 * through the net alone, each cell of the image from the window in which it
 * lies farthest from the edge (the mean of those tied). */
START_TEST(test_window_maps_by_hand)
{
    char image[1200], mask[1200];
    malignant_image(image, mask, sizeof image);
    ndx_explain_opts o;
    ndx_explain_defaults(&o);
    o.model = model, o.image = image, o.top = 64;
    ndx_explain_result r;
    ck_assert_msg(ndx_explain(&o, &r) == NDX_OK, "%s", ndx_last_error());
    ck_assert_str_eq(r.unit_maps, "windows");
    ck_assert(r.fcn);
    ndx_net *net;
    ck_assert_int_eq(ndx_net_load(model, &net), NDX_OK);
    const int node = ndx_net_find(net, "features.17");
    ck_assert_int_eq(ndx_net_keep_outputs(net, &node, 1), NDX_OK);
    ck_assert_int_eq(ndx_net_plan(net, 1, NDX_PLAN_INFER), NDX_OK);
    int U, fh, fw;
    ndx_net_node_shape(net, node, &U, &fh, &fw);
    ndx_image img;
    ck_assert_int_eq(ndx_png_read(image, 0, &img, NULL, 0), NDX_OK);
    const int ah = (img.h * fh + r.window - 1) / r.window, aw = (img.w * fw + r.window - 1) / r.window;
    ck_assert_int_eq(r.fcn_h, ah);
    ck_assert_int_eq(r.fcn_w, aw);
    double *sum = calloc((size_t)U * ah * aw, sizeof *sum), *central = malloc(sizeof *central * ah * aw);
    int *cnt = calloc((size_t)ah * aw, sizeof *cnt);
    for (int p = 0; p < ah * aw; p++) central[p] = -1;
    for (int g = 0; g < r.grid_w * r.grid_h; g++) {
        if (isnan(r.patch_prob[g])) continue;
        double z;
        window_prob(net, &img, g % r.grid_w * r.step, g / r.grid_w * r.step, r.window, &z);
        ndx_tensor t;
        ck_assert_int_eq(ndx_net_output(net, node, &t), NDX_OK);
        const int oy = (int)lround((double)(g / r.grid_w * r.step) * fh / r.window);
        const int ox = (int)lround((double)(g % r.grid_w * r.step) * fw / r.window);
        for (int y = 0; y < fh && oy + y < ah; y++)
            for (int x = 0; x < fw && ox + x < aw; x++) {
                /* the window where the cell lies farthest from the sides that are
                 * not the image's edge wins; ties averaged */
                const int wx = g % r.grid_w * r.step, wy = g / r.grid_w * r.step;
                double c = INFINITY;
                if (wx > 0) c = fmin(c, x + 0.5);
                if (wx + r.window < img.w) c = fmin(c, fw - x - 0.5);
                if (wy > 0) c = fmin(c, y + 0.5);
                if (wy + r.window < img.h) c = fmin(c, fh - y - 0.5);
                const int p = (oy + y) * aw + ox + x;
                if (c < central[p]) continue;
                if (c > central[p]) {
                    central[p] = c, cnt[p] = 0;
                    for (int u = 0; u < U; u++) sum[(size_t)u * ah * aw + p] = 0;
                }
                cnt[p]++;
                for (int u = 0; u < U; u++)
                    sum[(size_t)u * ah * aw + p] += t.data[(u * fh + y) * fw + x];
            }
    }
    /* no value on the cover's outline where only a window's outer ring on
     * an inner side saw the cell (it saw the padding beyond) */
    int masked = 0, *drop = calloc((size_t)ah * aw, sizeof *drop);
    for (int y = 0; y < ah; y++)
        for (int x = 0; x < aw; x++) {
            const int p = y * aw + x;
            int bare = 0;   /* an uncovered cell among the 8 around */
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++)
                    if (y + dy >= 0 && y + dy < ah && x + dx >= 0 && x + dx < aw)
                        bare |= !cnt[p + dy * aw + dx];
            drop[p] = cnt[p] && central[p] < 1 && bare;
        }
    for (int p = 0; p < ah * aw; p++)
        if (drop[p]) cnt[p] = 0, masked++;
    free(drop);
    ck_assert_msg(masked > 0, "no cell on the cover's outline");
    ndx_param_info head, bias;
    ck_assert_int_eq(ndx_net_tensor(net, ndx_net_num_tensors(net) - 2, &head), NDX_OK);
    ck_assert_int_eq(ndx_net_tensor(net, ndx_net_num_tensors(net) - 1, &bias), NDX_OK);
    double zsum = 0;
    int cells = 0;
    for (int p = 0; p < ah * aw; p++) {
        ck_assert_int_eq(isnan(r.fcn_prob[p]), cnt[p] == 0);   /* no window, no value */
        if (!cnt[p]) continue;
        double z = bias.data[1] - bias.data[0];
        for (int u = 0; u < U; u++)
            z += sum[(size_t)u * ah * aw + p] / cnt[p] * (head.data[U + u] - head.data[u]);
        ck_assert_msg(fabs(r.fcn_prob[p] - 1 / (1 + exp(-z))) < 1e-5, "cell %d: %.6f, by hand "
                      "%.6f", p, r.fcn_prob[p], 1 / (1 + exp(-z)));
        zsum += z, cells++;
    }
    ck_assert_msg(fabs(r.decision - zsum / cells) < 1e-4 + 1e-5 * fabs(zsum / cells),
                  "decision %g, mean logit of the covered cells by hand %g", r.decision,
                  zsum / cells);
    for (int i = 0; i < r.nunits; i++) {
        const ndx_explain_unit *e = &r.unit[i];
        ck_assert_int_eq(e->map_h, ah);
        ck_assert_int_eq(e->map_w, aw);
        double mx = -INFINITY;
        for (int p = 0; p < ah * aw; p++) {
            const double want = cnt[p] ? sum[(size_t)e->unit * ah * aw + p] / cnt[p] : 0;
            ck_assert_msg(fabs(e->map[p] - want) <= 1e-4 * (1 + fabs(want)), "unit %d cell %d: "
                          "%g, by hand %g", e->unit, p, e->map[p], want);
            if (cnt[p]) mx = fmax(mx, want);
        }
        const double w = head.data[U + e->unit] - head.data[e->unit];
        ck_assert_msg(fabs(e->contribution - mx * w) <= 1e-4 * (1 + fabs(mx * w)),
                      "unit %d: contribution %g, by hand %g", e->unit, e->contribution, mx * w);
    }
    free(sum), free(cnt), free(central);
    ndx_image_free(&img);
    ndx_net_free(net);
    ndx_explain_free(&r);
}
END_TEST

/* ---- labels and outputs ----------------------------------------------------- */

/* answers.jsonl: two readers on unit `unit` of the dissection. */
static void write_answers(const char *path, int unit)
{
    char csv[400];
    snprintf(csv, sizeof csv, "%s/units.csv", diss);
    size_t n;
    char *text = tu_slurp(csv, &n);
    ck_assert_ptr_nonnull(text);
    const unsigned long long h = (unsigned long long)ndx_hash64(text, n, 0);
    free(text);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    static const char *const who[2] = {"ann", "bob"};
    static const char *const what[2] = {
        "[{\"descriptors\":[\"calc_susp.fine_pleomorphic\",\"finding.calcifications\"],"
        "\"text\":\"fine pleomorphic calcs\",\"association\":\"malignant\",\"confidence\":4}]",
        "[{\"descriptors\":[\"calc_susp.fine_pleomorphic\"],\"text\":\"fine pleomorphic calcs\","
        "\"association\":null,\"confidence\":null}]"};
    for (int r = 0; r < 2; r++)
        fprintf(f, "{\"format\":\"netdx-survey-answers/1\",\"survey\":\"abc123\",\"simulated\":"
                "true,\"reader\":\"%s\",\"reader_id\":%d,\"role\":\"radiologist\",\"network\":"
                "\"tiny\",\"layer\":\"features.17\",\"unit\":%d,\"dissection\":\"%016llx\","
                "\"repeat\":false,\"revision\":1,\"revisions\":1,\"first_saved\":"
                "\"2026-12-07T13:45:00Z\",\"last_saved\":\"2026-12-07T13:45:00Z\","
                "\"seconds_spent\":12,\"recognizable\":\"yes\",\"association\":\"malignant\","
                "\"multiplicity\":\"single\",\"phenomena\":%s,\"comment\":\"\"}\n",
                who[r], r + 1, unit, h, what[r]);
    fclose(f);
}

START_TEST(test_labels_and_outputs)
{
    char image[1200], mask[1200], answers[400], out[400], path[600];
    malignant_image(image, mask, sizeof image);
    ndx_explain_opts o;
    ndx_explain_defaults(&o);
    o.model = model, o.image = image, o.top = 3;
    ndx_explain_result r;
    ck_assert_msg(ndx_explain(&o, &r) == NDX_OK, "%s", ndx_last_error());
    const int top = r.unit[0].unit;
    ndx_explain_free(&r);
    snprintf(answers, sizeof answers, "%s/answers.jsonl", dir);
    write_answers(answers, top);
    o.labels = answers, o.dissection = diss;
    ck_assert_msg(ndx_explain(&o, &r) == NDX_OK, "%s", ndx_last_error());
    ck_assert(r.labelled);
    ck_assert_int_eq(r.readers, 2);
    ck_assert_int_eq(r.simulated, 2);
    const ndx_explain_label *l = &r.unit[0].label;
    ck_assert_int_eq(l->readers, 2);
    ck_assert_int_eq(l->recognizable, 2);
    ck_assert_int_eq(l->agreeing, 2);
    ck_assert_str_eq(l->description, "fine pleomorphic calcs");
    ck_assert_str_eq(l->association, "malignant");
    ck_assert_int_eq(l->nterms, 2);
    ck_assert_str_eq(l->terms[0].id, "calc_susp.fine_pleomorphic");
    ck_assert_int_eq(l->terms[0].readers, 2);
    ck_assert_int_eq(l->terms[1].readers, 1);
    ck_assert_int_eq(r.unit[1].label.readers, 0);
    ck_assert_msg(r.unit[0].strip[0], "no strip from %s", diss);
    ck_assert_ptr_nonnull(strstr(r.summary, "Research aid, not a diagnosis"));
    ck_assert_ptr_nonnull(strstr(r.summary, "fine pleomorphic calcs"));
    ck_assert_ptr_nonnull(strstr(r.summary, "SIMULATED"));
    snprintf(out, sizeof out, "%s/explain", dir);
    for (int pass = 0; pass < 2; pass++)   /* the second replaces the first */
        ck_assert_msg(ndx_explain_write(out, &o, &r) == NDX_OK, "%s", ndx_last_error());
    static const char *const files[] = {"index.html", "explain.json", "mammogram.png",
                                        "heat.png", "fcn.png"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(path, sizeof path, "%s/%s", out, files[i]);
        ck_assert_msg(access(path, R_OK) == 0, "%s missing", path);
    }
    snprintf(path, sizeof path, "%s/explain.json", out);
    char *text = tu_slurp(path, NULL);
    cJSON *j = cJSON_Parse(text);
    free(text);
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(cJSON_GetObjectItem(j, "format")->valuestring, "netdx-explain/1");
    ck_assert_str_eq(cJSON_GetObjectItem(j, "notice")->valuestring, "research aid, not a diagnosis");
    const cJSON *w = cJSON_GetObjectItem(j, "windows");
    const cJSON *prob = cJSON_GetObjectItem(w, "probability");
    ck_assert_int_eq(cJSON_GetArraySize(prob), r.grid_h);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetArrayItem(prob, 0)), r.grid_w);
    ck_assert_int_eq(cJSON_GetObjectItem(w, "classified")->valueint, r.windows);
    const cJSON *units = cJSON_GetObjectItem(j, "units");
    ck_assert_int_eq(cJSON_GetArraySize(units), 3);
    const cJSON *u0 = cJSON_GetArrayItem(units, 0);
    ck_assert_int_eq(cJSON_GetObjectItem(u0, "unit")->valueint, top);
    ck_assert_double_eq_tol(cJSON_GetObjectItem(u0, "contribution")->valuedouble,
                            r.unit[0].contribution, 1e-5);
    const cJSON *lab = cJSON_GetObjectItem(u0, "label");
    ck_assert_int_eq(cJSON_GetObjectItem(lab, "readers")->valueint, 2);
    ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(lab,
                     "descriptors"), 0), "id")->valuestring, "calc_susp.fine_pleomorphic");
    ck_assert(cJSON_IsString(cJSON_GetObjectItem(u0, "strip_png")));
    ck_assert(cJSON_IsObject(cJSON_GetObjectItem(j, "fully_convolutional")));
    ck_assert_str_eq(cJSON_GetObjectItem(j, "summary")->valuestring, r.summary);
    cJSON_Delete(j);
    snprintf(path, sizeof path, "%s/index.html", out);
    text = tu_slurp(path, NULL);
    ck_assert_ptr_nonnull(strstr(text, "Content-Security-Policy"));
    ck_assert_ptr_nonnull(strstr(text, "Research aid, not a diagnosis"));
    ck_assert_ptr_null(strstr(text, "http://"));
    ck_assert_ptr_null(strstr(text, "https://"));
    free(text);
    /* the same labels through a report folder (its provenance.json) */
    ndx_report_opts ro;
    ndx_report_defaults(&ro);
    const char *dirs[1] = {diss};
    snprintf(path, sizeof path, "%s/report", dir);
    ro.survey = answers, ro.dissections = dirs, ro.ndissections = 1, ro.out = path;
    ro.resamples = 10;
    ck_assert_msg(ndx_report(&ro, NULL) == NDX_OK, "%s", ndx_last_error());
    ndx_explain_opts o2 = o;
    o2.labels = NULL, o2.dissection = NULL, o2.report = path;
    ndx_explain_result r2;
    ck_assert_msg(ndx_explain(&o2, &r2) == NDX_OK, "%s", ndx_last_error());
    ck_assert_int_eq(r2.unit[0].label.readers, 2);
    ck_assert_str_eq(r2.unit[0].label.description, l->description);
    ck_assert_str_eq(r2.summary, r.summary);
    ndx_explain_free(&r2);
    /* a folder of other files is left alone */
    ck_assert_int_ne(ndx_explain_write(data, &o, &r), NDX_OK);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "refusing"));
    ck_assert_int_eq(access(data, R_OK), 0);
    /* a strip that went missing: the images are written by several
     * threads, the failure still says which file */
    char gone[400], out2[400];
    snprintf(gone, sizeof gone, "%s/no_such_strip.png", dir);
    snprintf(out2, sizeof out2, "%s/explain_gone", dir);
    snprintf(r.unit[r.nunits - 1].strip, sizeof r.unit[0].strip, "%s", gone);
    ck_assert_int_ne(ndx_explain_write(out2, &o, &r), NDX_OK);
    ck_assert_msg(strstr(ndx_last_error(), "no_such_strip.png"), "%s", ndx_last_error());
    ck_assert_int_ne(access(out2, F_OK), 0);
    ndx_explain_free(&r);
}
END_TEST

/* ---- bad input ------------------------------------------------------------------ */

static void expect_error(ndx_explain_opts *o, ndx_status want, const char *says)
{
    ndx_explain_result r;
    const ndx_status st = ndx_explain(o, &r);
    ck_assert_msg(st == want, "status %d, want %d (%s)", st, want, ndx_last_error());
    ck_assert_msg(strstr(ndx_last_error(), says), "'%s' does not say '%s'", ndx_last_error(),
                  says);
    ck_assert_ptr_null(r.unit);
    ck_assert_ptr_null(r.patch_prob);
}

/* The same pixels as a 16-bit DICOM file explain as the PNG does. */
START_TEST(test_dicom_image)
{
    if (!ndx_image_dicom_available()) {
        printf("check_explain: built without DICOM (make DICOM=0): the DICOM case not run\n");
        return;
    }
    char image[1200], mask[1200], dcm[600];
    malignant_image(image, mask, sizeof image);
    ndx_image img;
    ck_assert_int_eq(ndx_png_read(image, 0, &img, NULL, 0), NDX_OK);
    ck_assert_int_eq(img.maxval, 65535);
    snprintf(dcm, sizeof dcm, "%s/same.dcm", dir);
    dcm_fx x = {.w = img.w, .h = img.h, .px = img.px};
    dcm_write(dcm, &x);
    ndx_explain_opts o;
    ndx_explain_defaults(&o);
    o.model = model, o.image = image;
    ndx_explain_result a, b;
    ck_assert_msg(ndx_explain(&o, &a) == NDX_OK, "%s", ndx_last_error());
    o.image = dcm;
    ck_assert_msg(ndx_explain(&o, &b) == NDX_OK, "%s", ndx_last_error());
    ck_assert_int_eq(a.grid_w, b.grid_w);
    ck_assert_int_eq(a.grid_h, b.grid_h);
    ck_assert_int_gt(a.grid_w * a.grid_h, 0);
    ck_assert_mem_eq(a.patch_prob, b.patch_prob, sizeof(float) * a.grid_w * a.grid_h);
    ck_assert_int_eq(a.nunits, b.nunits);
    for (int u = 0; u < a.nunits; u++) ck_assert_int_eq(a.unit[u].unit, b.unit[u].unit);
    ndx_explain_free(&a);
    ndx_explain_free(&b);
    ndx_image_free(&img);
}
END_TEST

START_TEST(test_bad_input)
{
    char image[1200], mask[1200], path[600];
    malignant_image(image, mask, sizeof image);
    ndx_explain_opts o;
    ndx_explain_defaults(&o);
    snprintf(path, sizeof path, "%s/junk.dcm", dir);
    FILE *j = fopen(path, "w");
    fputs("not a DICOM file at all", j);
    fclose(j);
    o.model = model, o.image = path;
    if (ndx_image_dicom_available()) expect_error(&o, NDX_ERR_FORMAT, "junk.dcm: not a DICOM file");
    else expect_error(&o, NDX_ERR_UNSUPPORTED, "built without");
    o.image = "/nonexistent/x.png";
    expect_error(&o, NDX_ERR_IO, "/nonexistent/x.png");
    o.image = image, o.model = model3;
    expect_error(&o, NDX_ERR_INVALID, "3 classes");
    o.model = model, o.layer = "features.99";
    expect_error(&o, NDX_ERR_INVALID, "no layer 'features.99'");
    o.layer = NULL, o.top = 0;
    expect_error(&o, NDX_ERR_INVALID, "top 0");
    o.top = 8, o.side = "middle";
    expect_error(&o, NDX_ERR_INVALID, "side 'middle'");
    o.side = NULL, o.labels = image;
    expect_error(&o, NDX_ERR_INVALID, "--dissection");
    snprintf(path, sizeof path, "%s/bad.jsonl", dir);
    FILE *f = fopen(path, "w");
    fputs("{\"format\":\"netdx-survey-answers/1\"}\n", f);
    fclose(f);
    o.labels = path, o.dissection = diss;
    expect_error(&o, NDX_ERR_FORMAT, "bad.jsonl");
    o.labels = NULL, o.report = data;
    expect_error(&o, NDX_ERR_IO, "provenance.json");
    /* an image without breast */
    o.report = NULL, o.dissection = NULL;
    uint16_t black[64 * 64] = {0};
    snprintf(path, sizeof path, "%s/black.png", dir);
    ck_assert_int_eq(ndx_png_write16(path, black, 64, 64), NDX_OK);
    o.image = path;
    expect_error(&o, NDX_ERR_INVALID, "no window");
}
END_TEST

static int cli(const char *args, const char *log)
{
    char cmd[5000];
    snprintf(cmd, sizeof cmd, "'%s' explain %s > '%s' 2>&1", bin, args, log);
    const int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

START_TEST(test_cli)
{
    char image[1200], mask[1200], args[3000], log[400], out[400];
    malignant_image(image, mask, sizeof image);
    snprintf(log, sizeof log, "%s/cli.log", dir);
    snprintf(out, sizeof out, "%s/cli", dir);
    snprintf(args, sizeof args, "--model '%s' --image '%s' --top 2 --dissection '%s' --out '%s'",
             model, image, diss, out);
    ck_assert_int_eq(cli(args, log), 0);
    char *text = tu_slurp(log, NULL);
    ck_assert_ptr_nonnull(strstr(text, "Research aid, not a diagnosis"));
    ck_assert_ptr_nonnull(strstr(text, "(exact, unit maps: windows)"));
    free(text);
    snprintf(args, sizeof args, "--model '%s' --image x.dcm --out '%s'", model, out);
    ck_assert_int_eq(cli(args, log), 1);
    text = tu_slurp(log, NULL);
    ck_assert_ptr_nonnull(strstr(text, "netdx explain: x.dcm"));
    free(text);
    snprintf(args, sizeof args, "--model '%s' --out '%s'", model, out);
    ck_assert_int_eq(cli(args, log), 2);
    snprintf(args, sizeof args, "--model '%s' --image '%s' --top 99 --out '%s'", model, image, out);
    ck_assert_int_eq(cli(args, log), 2);
    snprintf(args, sizeof args, "--model '%s' --image '%s' --patch-map mean --out '%s'", model,
             image, out);
    ck_assert_int_eq(cli(args, log), 2);
    snprintf(args, sizeof args, "--model '%s' --image '%s' --patch-map fcn --top 1 --out '%s'",
             model, image, out);
    ck_assert_int_eq(cli(args, log), 0);
    text = tu_slurp(log, NULL);
    ck_assert_ptr_nonnull(strstr(text, "(fcn, unit maps: whole)"));
    free(text);
    snprintf(args, sizeof args, "--model '%s' --image '%s' --unit-maps whole --top 1 --out '%s'",
             model, image, out);
    ck_assert_int_eq(cli(args, log), 0);
    text = tu_slurp(log, NULL);
    ck_assert_ptr_nonnull(strstr(text, "(exact, unit maps: whole)"));
    free(text);
    snprintf(args, sizeof args, "--model '%s' --image '%s' --unit-maps all --out '%s'", model,
             image, out);
    ck_assert_int_eq(cli(args, log), 2);
}
END_TEST

int main(int argc, char **argv)
{
    (void)argc;
    tu_netdx_path(argv[0], bin, sizeof bin);
    Suite *s = suite_create("explain");
    TCase *run = tcase_create("run");
    tcase_set_timeout(run, 600);
    tcase_add_unchecked_fixture(run, make_dir, remove_dir);
    tcase_add_test(run, test_phantom_lesion_under_maximum);
    tcase_add_test(run, test_patch_maps);
    tcase_add_test(run, test_contributions_by_hand);
    tcase_add_test(run, test_window_maps_by_hand);
    tcase_add_test(run, test_labels_and_outputs);
    tcase_add_test(run, test_bad_input);
    tcase_add_test(run, test_dicom_image);
    tcase_add_test(run, test_cli);
    suite_add_tcase(s, run);
    return tu_run(s);
}

/* Layers: forward and backward on NCHW float32 arrays (see netdx_nn.h for the
 * shapes).  Convolution lives in src/core/conv.c; pooling forward and ReLU
 * forward go through the kernel table; the rest are plain loops here, with
 * OpenMP over channels or rows (each thread writes its own outputs).
 * Parameter gradients accumulate (+=); input gradients are overwritten, or
 * accumulated when acc is 1. */
#include <math.h>
#include <string.h>

#include "../core/core.h"
#include "../../kernels/kernels.h"
#include "netdx_nn.h"
#include "nn_internal.h"

/* ---- linear ---------------------------------------------------------------- */

/* y[i][o] = x_i . w_o for a few rows: the weights are read once, straight
 * (no packing), by the dot_rows kernel; threads take blocks of 64 outputs. */
static void linear_small_batch(int n, int in, int out, const float *x, const float *w, float *y)
{
    const ndx_dot_rows_fn dot = ndx_kernels()->dot_rows.fn;
    const int nt = ndx_get_threads(), blocks = (out + 63) / 64;
    (void)nt;
#pragma omp parallel for num_threads(nt) if (nt > 1 && (size_t)out * in > 65536) schedule(static)
    for (int bk = 0; bk < blocks; bk++) {
        const int o = bk * 64, rows = out - o < 64 ? out - o : 64;
        dot(n, rows, in, x, w + (size_t)o * in, y + o, out);
    }
}

void ndx_linear_forward(int n, int in, int out, const float *x, const float *w,
                        const float *b, float *y)
{
    /* y (n, out) = x (n, in) . w^T (in, out) */
    if (n <= 8)   /* measured: the dot path wins up to batch 8 (alexnet), ties at 16 */
        linear_small_batch(n, in, out, x, w, y);
    else
        ndx_sgemm(0, 1, n, out, in, 1.0f, x, in, w, in, 0.0f, y, out);
    if (b)
        for (int i = 0; i < n; i++)
            for (int o = 0; o < out; o++) y[(size_t)i * out + o] += b[o];
}

void ndx_linear_backward(int n, int in, int out, const float *x, const float *w,
                         const float *dy, float *dx, float *dw, float *db, int acc)
{
    ndx__linear_backward(n, in, out, x, w, dy, dx, dw, db, acc, 1);
}

void ndx__linear_backward(int n, int in, int out, const float *x, const float *w,
                          const float *dy, float *dx, float *dw, float *db, int acc, int acc_w)
{
    /* dx (n, in) = dy (n, out) . w (out, in) */
    if (dx) ndx_sgemm(0, 0, n, in, out, 1.0f, dy, out, w, in, acc ? 1.0f : 0.0f, dx, in);
    /* dw (out, in) += dy^T (out, n) . x (n, in) (= when acc_w is 0) */
    if (dw) ndx_sgemm(1, 0, out, in, n, 1.0f, dy, out, x, in, acc_w ? 1.0f : 0.0f, dw, in);
    if (db)
        for (int o = 0; o < out; o++) {
            float s = 0;
            for (int i = 0; i < n; i++) s += dy[(size_t)i * out + o];
            db[o] = acc_w ? db[o] + s : s;
        }
}

/* ---- relu ------------------------------------------------------------------------ */

void ndx_relu_forward(size_t count, const float *x, float *y)
{
    ndx_kernels()->relu.fn(count, x, y);
}

void ndx_relu_backward(size_t count, const float *y, const float *dy, float *dx, int acc)
{
    if (acc)
        for (size_t i = 0; i < count; i++) dx[i] += y[i] > 0 ? dy[i] : 0.0f;
    else
        for (size_t i = 0; i < count; i++) dx[i] = y[i] > 0 ? dy[i] : 0.0f;
}

/* ---- pooling ------------------------------------------------------------------- */

static ndx_pool2d_shape kshape(const ndx_pool2d *p)
{
    return (ndx_pool2d_shape){p->h, p->w, p->kh, p->kw, p->sh, p->sw, p->ph, p->pw,
                            p->ceil_mode, p->count_include_pad};
}

int ndx_pool2d_out_h(const ndx_pool2d *p)
{
    return ndx_pool2d_out_size(p->h, p->kh, p->sh, p->ph, p->ceil_mode);
}

int ndx_pool2d_out_w(const ndx_pool2d *p)
{
    return ndx_pool2d_out_size(p->w, p->kw, p->sw, p->pw, p->ceil_mode);
}

void ndx_maxpool2d_forward(int planes, const ndx_pool2d *p, const float *x, float *y,
                           int32_t *argmax)
{
    ndx_pool2d_shape s = kshape(p);
    const size_t ip = (size_t)p->h * p->w;
    const size_t op = (size_t)ndx_pool2d_out_h(p) * ndx_pool2d_out_w(p);
    const int nt = ndx_get_threads();
    (void)nt;
#pragma omp parallel for num_threads(nt) if (nt > 1 && planes * ip > 65536) schedule(static)
    for (int c = 0; c < planes; c++)
        ndx_kernels()->maxpool2d.fn(1, &s, x + c * ip, y + c * op,
                                    argmax ? argmax + c * op : NULL);
}

void ndx_maxpool2d_backward(int planes, const ndx_pool2d *p, const int32_t *argmax,
                            const float *dy, float *dx, int acc)
{
    const size_t ip = (size_t)p->h * p->w;
    const size_t op = (size_t)ndx_pool2d_out_h(p) * ndx_pool2d_out_w(p);
    if (!acc) memset(dx, 0, (size_t)planes * ip * sizeof *dx);
    for (int c = 0; c < planes; c++)
        for (size_t o = 0; o < op; o++)
            dx[c * ip + (size_t)argmax[c * op + o]] += dy[c * op + o];
}

void ndx_avgpool2d_forward(int planes, const ndx_pool2d *p, const float *x, float *y)
{
    ndx_pool2d_shape s = kshape(p);
    const size_t ip = (size_t)p->h * p->w;
    const size_t op = (size_t)ndx_pool2d_out_h(p) * ndx_pool2d_out_w(p);
    const int nt = ndx_get_threads();
    (void)nt;
#pragma omp parallel for num_threads(nt) if (nt > 1 && planes * ip > 65536) schedule(static)
    for (int c = 0; c < planes; c++)
        ndx_kernels()->avgpool2d.fn(1, &s, x + c * ip, y + c * op);
}

static int imin(int a, int b) { return a < b ? a : b; }
static int imax(int a, int b) { return a > b ? a : b; }

void ndx_avgpool2d_backward(int planes, const ndx_pool2d *p, const float *dy, float *dx,
                            int acc)
{
    /* the same windows and divisors as kernels/ref/f32-pool-ref.c */
    const int oh = ndx_pool2d_out_h(p), ow = ndx_pool2d_out_w(p);
    const size_t ip = (size_t)p->h * p->w, op = (size_t)oh * ow;
    if (!acc) memset(dx, 0, (size_t)planes * ip * sizeof *dx);
    for (int c = 0; c < planes; c++)
        for (int oy = 0; oy < oh; oy++) {
            int ya = oy * p->sh - p->ph, yb = imin(ya + p->kh, p->h + p->ph);
            for (int ox = 0; ox < ow; ox++) {
                int xa = ox * p->sw - p->pw, xb = imin(xa + p->kw, p->w + p->pw);
                int pool = (yb - ya) * (xb - xa);
                int y0 = imax(ya, 0), y1 = imin(yb, p->h);
                int x0 = imax(xa, 0), x1 = imin(xb, p->w);
                int cnt = p->count_include_pad ? pool : (y1 - y0) * (x1 - x0);
                if (cnt <= 0) continue;
                float g = dy[c * op + (size_t)oy * ow + ox] / (float)cnt;
                for (int y = y0; y < y1; y++)
                    for (int xx = x0; xx < x1; xx++) dx[c * ip + (size_t)y * p->w + xx] += g;
            }
        }
}

void ndx_adaptive_avgpool2d_forward(int planes, int h, int w, int oh, int ow,
                                    const float *x, float *y)
{
    const size_t ip = (size_t)h * w, op = (size_t)oh * ow;
    if (oh == 1 && ow == 1) {   /* global: the kernel table's SIMD reduction */
        ndx_kernels()->global_avgpool.fn(planes, ip, x, y);
        return;
    }
    const int nt = ndx_get_threads();
    (void)nt;
#pragma omp parallel for num_threads(nt) if (nt > 1 && planes * ip > 65536) schedule(static)
    for (int c = 0; c < planes; c++)
        for (int oy = 0; oy < oh; oy++) {
            int y0 = oy * h / oh, y1 = ((oy + 1) * h + oh - 1) / oh;
            for (int ox = 0; ox < ow; ox++) {
                int x0 = ox * w / ow, x1 = ((ox + 1) * w + ow - 1) / ow;
                float s = 0;
                for (int yy = y0; yy < y1; yy++)
                    for (int xx = x0; xx < x1; xx++) s += x[c * ip + (size_t)yy * w + xx];
                y[c * op + (size_t)oy * ow + ox] = s / (float)((y1 - y0) * (x1 - x0));
            }
        }
}

void ndx_adaptive_avgpool2d_backward(int planes, int h, int w, int oh, int ow,
                                     const float *dy, float *dx, int acc)
{
    const size_t ip = (size_t)h * w, op = (size_t)oh * ow;
    if (!acc) memset(dx, 0, (size_t)planes * ip * sizeof *dx);
    for (int c = 0; c < planes; c++)
        for (int oy = 0; oy < oh; oy++) {
            int y0 = oy * h / oh, y1 = ((oy + 1) * h + oh - 1) / oh;
            for (int ox = 0; ox < ow; ox++) {
                int x0 = ox * w / ow, x1 = ((ox + 1) * w + ow - 1) / ow;
                float g = dy[c * op + (size_t)oy * ow + ox] / (float)((y1 - y0) * (x1 - x0));
                for (int yy = y0; yy < y1; yy++)
                    for (int xx = x0; xx < x1; xx++) dx[c * ip + (size_t)yy * w + xx] += g;
            }
        }
}

/* ---- batch norm ------------------------------------------------------------------
 * Statistics are summed in double per channel, so they do not depend on the
 * thread count. */

void ndx_batchnorm_forward_train(int n, int c, size_t hw, const float *x,
                                 const float *gamma, const float *beta,
                                 float *running_mean, float *running_var,
                                 float momentum, float eps, float *y,
                                 float *save_mean, float *save_invstd)
{
    const size_t cnt = (size_t)n * hw;
    const int nt = ndx_get_threads();
    (void)nt;
#pragma omp parallel for num_threads(nt) if (nt > 1 && (size_t)n * c * hw > 65536) schedule(static)
    for (int ch = 0; ch < c; ch++) {
        double s = 0, ss = 0;
        for (int i = 0; i < n; i++) {
            const float *p = x + ((size_t)i * c + ch) * hw;
            for (size_t j = 0; j < hw; j++) s += p[j];
        }
        const double mean = s / (double)cnt;
        for (int i = 0; i < n; i++) {
            const float *p = x + ((size_t)i * c + ch) * hw;
            for (size_t j = 0; j < hw; j++) {
                double d = p[j] - mean;
                ss += d * d;
            }
        }
        const double var = ss / (double)cnt;
        const float invstd = (float)(1.0 / sqrt(var + eps));
        const float g = gamma ? gamma[ch] : 1.0f, b = beta ? beta[ch] : 0.0f;
        const float fm = (float)mean;
        for (int i = 0; i < n; i++) {
            const float *p = x + ((size_t)i * c + ch) * hw;
            float *q = y + ((size_t)i * c + ch) * hw;
            for (size_t j = 0; j < hw; j++) q[j] = (p[j] - fm) * invstd * g + b;
        }
        if (save_mean) save_mean[ch] = fm;
        if (save_invstd) save_invstd[ch] = invstd;
        if (running_mean)
            running_mean[ch] = (float)((1.0 - momentum) * running_mean[ch] + momentum * mean);
        if (running_var) {
            double unb = cnt > 1 ? ss / (double)(cnt - 1) : var;
            running_var[ch] = (float)((1.0 - momentum) * running_var[ch] + momentum * unb);
        }
    }
}

void ndx_batchnorm_forward_eval(int n, int c, size_t hw, const float *x,
                                const float *gamma, const float *beta,
                                const float *running_mean, const float *running_var,
                                float eps, float *y)
{
    const int nt = ndx_get_threads();
    (void)nt;
#pragma omp parallel for num_threads(nt) if (nt > 1 && (size_t)n * c * hw > 65536) schedule(static)
    for (int ic = 0; ic < n * c; ic++) {
        const int ch = ic % c;
        const float invstd = 1.0f / sqrtf(running_var[ch] + eps);
        const float sc = (gamma ? gamma[ch] : 1.0f) * invstd;
        const float sh = (beta ? beta[ch] : 0.0f) - running_mean[ch] * sc;
        const float *p = x + (size_t)ic * hw;
        float *q = y + (size_t)ic * hw;
        for (size_t j = 0; j < hw; j++) q[j] = p[j] * sc + sh;
    }
}

void ndx_batchnorm_backward_train(int n, int c, size_t hw, const float *x,
                                  const float *gamma, const float *save_mean,
                                  const float *save_invstd, const float *dy, float *dx,
                                  float *dgamma, float *dbeta, int acc)
{
    const double cnt = (double)n * (double)hw;
    const int nt = ndx_get_threads();
    (void)nt;
#pragma omp parallel for num_threads(nt) if (nt > 1 && (size_t)n * c * hw > 65536) schedule(static)
    for (int ch = 0; ch < c; ch++) {
        const float mean = save_mean[ch], invstd = save_invstd[ch];
        double sdy = 0, sdyx = 0;
        for (int i = 0; i < n; i++) {
            const size_t o = ((size_t)i * c + ch) * hw;
            for (size_t j = 0; j < hw; j++) {
                sdy += dy[o + j];
                sdyx += (double)dy[o + j] * (double)((x[o + j] - mean) * invstd);
            }
        }
        if (dgamma) dgamma[ch] += (float)sdyx;
        if (dbeta) dbeta[ch] += (float)sdy;
        if (!dx) continue;
        /* dx = g*invstd/N * (N dy - sum dy - xhat sum(dy xhat)) */
        const float g = gamma ? gamma[ch] : 1.0f;
        const float k = g * invstd;
        const float mdy = (float)(sdy / cnt), mdyx = (float)(sdyx / cnt);
        for (int i = 0; i < n; i++) {
            const size_t o = ((size_t)i * c + ch) * hw;
            for (size_t j = 0; j < hw; j++) {
                float xh = (x[o + j] - mean) * invstd;
                float v = k * (dy[o + j] - mdy - xh * mdyx);
                dx[o + j] = acc ? dx[o + j] + v : v;
            }
        }
    }
}

void ndx_batchnorm_backward_eval(int n, int c, size_t hw, const float *x,
                                 const float *gamma, const float *running_mean,
                                 const float *running_var, float eps, const float *dy,
                                 float *dx, float *dgamma, float *dbeta, int acc)
{
    const int nt = ndx_get_threads();
    (void)nt;
#pragma omp parallel for num_threads(nt) if (nt > 1 && (size_t)n * c * hw > 65536) schedule(static)
    for (int ch = 0; ch < c; ch++) {
        const float invstd = 1.0f / sqrtf(running_var[ch] + eps);
        const float mean = running_mean[ch];
        const float k = (gamma ? gamma[ch] : 1.0f) * invstd;
        double sdy = 0, sdyx = 0;
        for (int i = 0; i < n; i++) {
            const size_t o = ((size_t)i * c + ch) * hw;
            for (size_t j = 0; j < hw; j++) {
                sdy += dy[o + j];
                sdyx += (double)dy[o + j] * (double)((x[o + j] - mean) * invstd);
                if (dx) dx[o + j] = acc ? dx[o + j] + k * dy[o + j] : k * dy[o + j];
            }
        }
        if (dgamma) dgamma[ch] += (float)sdyx;
        if (dbeta) dbeta[ch] += (float)sdy;
    }
}

void ndx_batchnorm_fold(int k, size_t per_k, const float *w, const float *b,
                        const float *gamma, const float *beta, const float *mean,
                        const float *var, float eps, float *w2, float *b2)
{
    for (int o = 0; o < k; o++) {
        const float s = (gamma ? gamma[o] : 1.0f) / sqrtf(var[o] + eps);
        for (size_t i = 0; i < per_k; i++) w2[(size_t)o * per_k + i] = w[(size_t)o * per_k + i] * s;
        b2[o] = ((b ? b[o] : 0.0f) - mean[o]) * s + (beta ? beta[o] : 0.0f);
    }
}

/* ---- dropout --------------------------------------------------------------------- */

void ndx_dropout_forward(size_t count, float p, ndx_rng *rng, const float *x, float *y,
                         float *mask)
{
    const float keep = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
    for (size_t i = 0; i < count; i++) {
        mask[i] = ndx_rng_uniform(rng) < p ? 0.0f : keep;
        y[i] = x[i] * mask[i];
    }
}

void ndx_dropout_backward(size_t count, const float *mask, const float *dy, float *dx,
                          int acc)
{
    for (size_t i = 0; i < count; i++) dx[i] = acc ? dx[i] + dy[i] * mask[i] : dy[i] * mask[i];
}

/* ---- concat, add -------------------------------------------------------------- */

void ndx_concat_forward(int n, int nin, const int *cs, size_t hw, const float *const *xs,
                        float *y)
{
    int ctot = 0;
    for (int k = 0; k < nin; k++) ctot += cs[k];
    for (int i = 0; i < n; i++) {
        size_t off = (size_t)i * ctot * hw;
        for (int k = 0; k < nin; k++) {
            const size_t m = (size_t)cs[k] * hw;
            memcpy(y + off, xs[k] + (size_t)i * m, m * sizeof *y);
            off += m;
        }
    }
}

void ndx_concat_backward(int n, int nin, const int *cs, size_t hw, const float *dy,
                         float *const *dxs, const int *acc)
{
    int ctot = 0;
    for (int k = 0; k < nin; k++) ctot += cs[k];
    for (int i = 0; i < n; i++) {
        size_t off = (size_t)i * ctot * hw;
        for (int k = 0; k < nin; k++) {
            const size_t m = (size_t)cs[k] * hw;
            if (dxs[k]) ndx_copy_grad(m, dy + off, dxs[k] + (size_t)i * m, acc[k]);
            off += m;
        }
    }
}

void ndx_add_forward(size_t count, const float *a, const float *b, float *y)
{
    ndx_kernels()->add.fn(count, a, b, y);
}

void ndx_copy_grad(size_t count, const float *dy, float *dx, int acc)
{
    if (acc)
        for (size_t i = 0; i < count; i++) dx[i] += dy[i];
    else if (dx != dy)
        memcpy(dx, dy, count * sizeof *dx);
}

/* ---- loss ------------------------------------------------------------------------ */

ndx_status ndx_softmax_xent(int n, int classes, const float *logits, const int *labels,
                            const float *class_weight, float *dlogits, double *loss)
{
    double wsum = 0, l = 0;
    for (int i = 0; i < n; i++) {
        if (labels[i] < 0 || labels[i] >= classes)
            return ndx__fail(NDX_ERR_INVALID, "softmax_xent: label %d of sample %d is "
                             "outside 0..%d", labels[i], i, classes - 1);
        wsum += class_weight ? class_weight[labels[i]] : 1.0;
    }
    if (!(wsum > 0))
        return ndx__fail(NDX_ERR_INVALID, "softmax_xent: the class weights of the batch sum to %g",
                         wsum);
    for (int i = 0; i < n; i++) {
        const float *z = logits + (size_t)i * classes;
        double m = z[0];
        for (int j = 1; j < classes; j++) m = z[j] > m ? z[j] : m;
        double s = 0;
        for (int j = 0; j < classes; j++) s += exp(z[j] - m);
        const double lse = m + log(s);
        const double w = class_weight ? class_weight[labels[i]] : 1.0;
        l += w * (lse - z[labels[i]]);
        if (dlogits)
            for (int j = 0; j < classes; j++) {
                double p = exp(z[j] - lse);
                dlogits[(size_t)i * classes + j] =
                    (float)(w * (p - (j == labels[i] ? 1.0 : 0.0)) / wsum);
            }
    }
    if (loss) *loss = l / wsum;
    return NDX_OK;
}

/* ---- input ------------------------------------------------------------------------ */

void ndx_gray_to_input(int n, size_t hw, const float *gray, float *x)
{
    static const float mean[3] = {0.485f, 0.456f, 0.406f}, stdv[3] = {0.229f, 0.224f, 0.225f};
    for (int i = 0; i < n; i++)
        for (int c = 0; c < 3; c++) {
            const float *g = gray + (size_t)i * hw;
            float *q = x + ((size_t)i * 3 + c) * hw;
            for (size_t j = 0; j < hw; j++) q[j] = (g[j] - mean[c]) / stdv[c];
        }
}

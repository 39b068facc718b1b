/* SGD with momentum and weight decay, as torch.optim.SGD (dampening 0,
 * nesterov off), over flat arrays: params, grads and momentum buffers each
 * one contiguous block of n floats.  Per element:
 *   d = g + wd * p;   buf = (step == 0) ? d : momentum * buf + d;   p -= lr * buf
 * Element-wise, so splitting the loop over threads changes no bit. */
#include <math.h>

#include "../core/core.h"

ndx_status ndx_sgd_step(ndx_sgd *opt, float *params, const float *grads,
                        float *buf, size_t n)
{
    if (!opt || (n && (!params || !grads)))
        return ndx__fail(NDX_ERR_INVALID, "sgd: optimiser, params and grads must not be NULL");
    const float lr = opt->lr, mom = opt->momentum, wd = opt->weight_decay;
    if (!isfinite(lr) || !(lr >= 0) || !(mom >= 0) || !isfinite(mom) ||
        !(wd >= 0) || !isfinite(wd))
        return ndx__fail(NDX_ERR_INVALID,
                         "sgd: lr %g, momentum %g, weight decay %g: each must be finite "
                         "and >= 0", (double)lr, (double)mom, (double)wd);
    if (mom != 0 && n && !buf)
        return ndx__fail(NDX_ERR_INVALID, "sgd: momentum %g needs a momentum buffer",
                         (double)mom);
    const long long len = (long long)n;
    if (mom == 0) {
#pragma omp parallel for schedule(static) num_threads(ndx_get_threads()) if (len > 65536)
        for (long long i = 0; i < len; i++) {
            float d = grads[i] + wd * params[i];
            params[i] -= lr * d;
        }
    } else if (opt->step == 0) {
#pragma omp parallel for schedule(static) num_threads(ndx_get_threads()) if (len > 65536)
        for (long long i = 0; i < len; i++) {
            float d = grads[i] + wd * params[i];
            buf[i] = d;
            params[i] -= lr * d;
        }
    } else {
#pragma omp parallel for schedule(static) num_threads(ndx_get_threads()) if (len > 65536)
        for (long long i = 0; i < len; i++) {
            float d = grads[i] + wd * params[i];
            float b = mom * buf[i] + d;
            buf[i] = b;
            params[i] -= lr * b;
        }
    }
    opt->step++;
    return NDX_OK;
}

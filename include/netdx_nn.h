/* netdx networks: layers with forward and backward, the graph that runs
 * them, the model zoo, models to and from safetensors files (.npy: netdx.h).
 *
 * USAGE
 *
 *     #include <netdx_nn.h>
 *
 *     ndx_net *net;
 *     if (ndx_net_load("model.safetensors", &net) != NDX_OK ||   // arch from metadata
 *         ndx_net_plan(net, 8, NDX_PLAN_INFER) != NDX_OK)         // batch 8, eval only
 *         fail(ndx_last_error());
 *     ndx_net_forward(net, x, NDX_EVAL, -1);        // x: (8, 3, H, W) float32
 *     ndx_tensor logits;
 *     ndx_net_output(net, ndx_net_num_nodes(net) - 1, &logits);   // (8, classes)
 *     ndx_net_free(net);
 *
 * Training (the net planned with NDX_PLAN_TRAIN):
 *
 *     ndx_net_zero_grads(net);                      // or once per step
 *     ndx_net_forward(net, x, NDX_TRAIN, -1);
 *     ndx_softmax_xent(n, classes, logits, labels, NULL, dlogits, &loss);
 *     ndx_net_backward(net, dlogits);               // adds into ndx_net_grads()
 *
 * Layers are plain functions on NCHW float32 arrays.  Parameter gradients are
 * always accumulated (+=), as PyTorch does; input gradients (dx) are
 * overwritten, or accumulated when `acc` is 1.
 */
#ifndef NETDX_NN_H
#define NETDX_NN_H

#include "netdx.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#pragma GCC visibility push(default)   /* exported: see netdx.h */
#endif

/* ---- layers ----------------------------------------------------------------
 * n: batch.  Forward functions write every element of y. */

/* x (n, in), w (out, in), b (out) or NULL -> y (n, out) = x w^T + b */
void ndx_linear_forward(int n, int in, int out, const float *x, const float *w,
                        const float *b, float *y);
/* dx (n, in) (may be NULL), dw (out, in) +=, db (out) += (may be NULL) */
void ndx_linear_backward(int n, int in, int out, const float *x, const float *w,
                         const float *dy, float *dx, float *dw, float *db, int acc);

/* y = max(x, 0); dx = dy where y > 0 (y is the forward output) */
void ndx_relu_forward(size_t count, const float *x, float *y);
void ndx_relu_backward(size_t count, const float *y, const float *dy, float *dx, int acc);

/* Pooling over n*c planes: window, stride, padding, ceil_mode and
 * count_include_pad as torch.nn.MaxPool2d / AvgPool2d.  Max pooling records the argmax
 * (y*W + x within the plane) for the backward pass. */
typedef struct ndx_pool2d {
    int h, w, kh, kw, sh, sw, ph, pw, ceil_mode, count_include_pad;
} ndx_pool2d;
int ndx_pool2d_out_h(const ndx_pool2d *p);
int ndx_pool2d_out_w(const ndx_pool2d *p);
void ndx_maxpool2d_forward(int planes, const ndx_pool2d *p, const float *x, float *y,
                           int32_t *argmax);
void ndx_maxpool2d_backward(int planes, const ndx_pool2d *p, const int32_t *argmax,
                            const float *dy, float *dx, int acc);
void ndx_avgpool2d_forward(int planes, const ndx_pool2d *p, const float *x, float *y);
void ndx_avgpool2d_backward(int planes, const ndx_pool2d *p, const float *dy, float *dx,
                            int acc);
/* Adaptive average pooling, planes of h x w -> oh x ow, windows
 * [floor(i*h/oh), ceil((i+1)*h/oh)) as PyTorch. */
void ndx_adaptive_avgpool2d_forward(int planes, int h, int w, int oh, int ow,
                                    const float *x, float *y);
void ndx_adaptive_avgpool2d_backward(int planes, int h, int w, int oh, int ow,
                                     const float *dy, float *dx, int acc);

/* Batch norm over x (n, c, hw).  Training: batch statistics (biased variance
 * normalises, unbiased variance updates running_var), running stats updated
 * with momentum (0.1 in torchvision): r = (1-m) r + m s; saves the batch mean
 * and 1/sqrt(var+eps) in save_mean/save_invstd (c each) for the backward.
 * Eval: running statistics.  gamma/beta may be NULL (1 and 0). */
void ndx_batchnorm_forward_train(int n, int c, size_t hw, const float *x,
                                 const float *gamma, const float *beta,
                                 float *running_mean, float *running_var,
                                 float momentum, float eps, float *y,
                                 float *save_mean, float *save_invstd);
void ndx_batchnorm_forward_eval(int n, int c, size_t hw, const float *x,
                                const float *gamma, const float *beta,
                                const float *running_mean, const float *running_var,
                                float eps, float *y);
/* dgamma, dbeta (c) +=; dx from the saved statistics (training) */
void ndx_batchnorm_backward_train(int n, int c, size_t hw, const float *x,
                                  const float *gamma, const float *save_mean,
                                  const float *save_invstd, const float *dy, float *dx,
                                  float *dgamma, float *dbeta, int acc);
void ndx_batchnorm_backward_eval(int n, int c, size_t hw, const float *x,
                                 const float *gamma, const float *running_mean,
                                 const float *running_var, float eps, const float *dy,
                                 float *dx, float *dgamma, float *dbeta, int acc);
/* Folds eval-mode batch norm into the convolution before it:
 * w' = w * s, b' = (b - mean) * s + beta, s = gamma / sqrt(var + eps).
 * w (k, per_k), b (k) or NULL (0); outputs w2 (k, per_k; may be w), b2 (k). */
void ndx_batchnorm_fold(int k, size_t per_k, const float *w, const float *b,
                        const float *gamma, const float *beta, const float *mean,
                        const float *var, float eps, float *w2, float *b2);

/* Dropout with probability p: mask[i] = 0 or 1/(1-p), drawn from rng;
 * y = x * mask; dx = dy * mask. */
void ndx_dropout_forward(size_t count, float p, ndx_rng *rng, const float *x, float *y,
                         float *mask);
void ndx_dropout_backward(size_t count, const float *mask, const float *dy, float *dx,
                          int acc);

/* Channel concat of nin inputs xs[i] (n, cs[i], hw) -> y (n, sum cs, hw). */
void ndx_concat_forward(int n, int nin, const int *cs, size_t hw, const float *const *xs,
                        float *y);
/* dxs[i] (n, cs[i], hw) from dy; NULL entries are skipped; acc[i] per input */
void ndx_concat_backward(int n, int nin, const int *cs, size_t hw, const float *dy,
                         float *const *dxs, const int *acc);

/* y = a + b; the gradient of each is dy. */
void ndx_add_forward(size_t count, const float *a, const float *b, float *y);
/* dx = dy (or += when acc) */
void ndx_copy_grad(size_t count, const float *dy, float *dx, int acc);

/* Softmax cross-entropy, mean over the batch as torch.nn.CrossEntropyLoss:
 * logits (n, classes), labels (n) in [0, classes); class_weight (classes) or
 * NULL: loss = sum_i w[y_i] * -log p_i[y_i] / sum_i w[y_i].  dlogits (n,
 * classes) may be NULL.  NDX_ERR_INVALID for a label out of range or a zero
 * total weight. */
ndx_status ndx_softmax_xent(int n, int classes, const float *logits, const int *labels,
                            const float *class_weight, float *dlogits, double *loss);

/* ---- the graph -------------------------------------------------------------
 * A DAG of named nodes, added in topological order (every input is an
 * earlier node); node 0 is the input "x".  Names follow torchvision's
 * modules ("features.28", "layer4.2.conv3", "Mixed_7c"); aliases name a node
 * twice ("layer4" = "layer4.2").  Builder calls return the new node's index,
 * or -1 after recording the first error in the net (ndx_net_finish reports
 * it).  Shapes are per sample (C, H, W); features are (C, 1, 1). */
typedef struct ndx_net ndx_net;

typedef enum ndx_op {
    NDX_OP_INPUT, NDX_OP_CONV, NDX_OP_BN, NDX_OP_RELU, NDX_OP_MAXPOOL, NDX_OP_AVGPOOL,
    NDX_OP_ADAPTIVE_AVGPOOL, NDX_OP_LINEAR, NDX_OP_DROPOUT, NDX_OP_CONCAT, NDX_OP_ADD,
    NDX_OP_FLATTEN
} ndx_op;

ndx_net *ndx_net_new(const char *arch, int c, int h, int w);
int ndx_net_conv(ndx_net *net, const char *name, int in, int k, int kh, int kw, int sh,
                 int sw, int ph, int pw, int groups, int bias);
int ndx_net_bn(ndx_net *net, const char *name, int in, float eps);
int ndx_net_relu(ndx_net *net, const char *name, int in);
int ndx_net_maxpool(ndx_net *net, const char *name, int in, int k, int s, int p, int ceil_mode);
int ndx_net_avgpool(ndx_net *net, const char *name, int in, int k, int s, int p,
                    int count_include_pad);
int ndx_net_adaptive_avgpool(ndx_net *net, const char *name, int in, int oh, int ow);
int ndx_net_linear(ndx_net *net, const char *name, int in, int out, int bias);
int ndx_net_dropout(ndx_net *net, const char *name, int in, float p);
int ndx_net_concat(ndx_net *net, const char *name, const int *ins, int nin);
int ndx_net_add(ndx_net *net, const char *name, int a, int b);
int ndx_net_flatten(ndx_net *net, const char *name, int in);
void ndx_net_alias(ndx_net *net, const char *name, int node);
/* Ends building: checks the recorded error, lays out the parameter block and
 * initialises it (convolutions kaiming-normal fan_out, linear layers as
 * PyTorch's default, batch norm 1/0/0/1) from seed; seed NDX_SEED_NONE
 * leaves every parameter and buffer 0, for a net whose weights are loaded
 * or copied next (the random initialisation of a large net costs seconds). */
#define NDX_SEED_NONE UINT64_MAX
ndx_status ndx_net_finish(ndx_net *net, uint64_t seed);
void ndx_net_free(ndx_net *net);

const char *ndx_net_arch(const ndx_net *net);
int ndx_net_num_nodes(const ndx_net *net);
/* Node index by name or alias, -1 if none. */
int ndx_net_find(const ndx_net *net, const char *name);
const char *ndx_net_node_name(const ndx_net *net, int node);
ndx_op ndx_net_node_op(const ndx_net *net, int node);
/* Node index of input k of node, -1 when it has none. */
int ndx_net_node_input(const ndx_net *net, int node, int k);
/* Per-sample output shape of a node: (C, H, W). */
void ndx_net_node_shape(const ndx_net *net, int node, int *c, int *h, int *w);
int ndx_net_num_classes(const ndx_net *net);
int ndx_net_input_size(const ndx_net *net);   /* H of the input */

/* Parameters (with gradients and momentum) and buffers (running stats),
 * each kind one flat block; ndx_net_tensor() describes entry i in
 * state_dict order with torchvision's name. */
typedef struct ndx_param_info {
    const char *name;        /* "layer1.0.bn1.running_var" */
    int ndim;
    int64_t shape[NDX_MAX_DIMS];
    size_t numel;
    float *data;
    float *grad;             /* NULL for buffers */
    float *momentum;         /* NULL for buffers */
    int is_buffer;
} ndx_param_info;
int ndx_net_num_tensors(const ndx_net *net);
ndx_status ndx_net_tensor(const ndx_net *net, int i, ndx_param_info *info);
/* grads and momentum are allocated (zeroed) by a training plan or by the
 * first call here; NULL when that fails.  ndx_net_tensor's grad and momentum
 * are NULL before. */
/* count includes the padding that keeps every tensor 64-byte aligned (zeros,
 * with zero gradients). */
float *ndx_net_params(ndx_net *net, size_t *count);
float *ndx_net_grads(ndx_net *net, size_t *count);
float *ndx_net_momentum(ndx_net *net, size_t *count);
/* Call after changing parameters or buffers from outside (weights loaded
 * here do it themselves): eval forward re-folds batch norm. */
void ndx_net_touch(ndx_net *net);
/* Deterministic test initialisation, the same as
 * tools/export_torchvision.py --init hash --seed S (src/nn/graph.c). */
void ndx_net_init_hash(ndx_net *net, uint64_t seed);
/* Re-initialises the last linear layer (the classifier head) with
 * PyTorch's default: U(-1/sqrt(in), 1/sqrt(in)) for weight and bias. */
void ndx_net_reset_head(ndx_net *net, uint64_t seed);
/* Dropout on (1, default) or off (0) in training mode. */
void ndx_net_set_dropout(ndx_net *net, int on);
/* Reseeds the dropout stream. */
void ndx_net_seed_dropout(ndx_net *net, uint64_t seed);

/* NDX_PLAN_INFER_FOLDED is NDX_PLAN_INFER with batch norm folded into the
 * convolution weights in place, once (no second copy of the weights), and
 * the weights of the convolutions that run as im2col + GEMM repacked in
 * place into the current kernel set's GEMM panel layout: after it the net
 * only plans NDX_PLAN_INFER_FOLDED, runs only with that kernel set, is not
 * saved, and a folded convolution's own output (before its batch norm)
 * cannot be tapped, until weights are loaded or initialised again.
 * Plans the activation arena for a batch: NDX_PLAN_INFER keeps only live
 * activations (buffers reused, eval mode only); NDX_PLAN_TRAIN keeps every
 * activation for backward plus gradient buffers.  NDX_PLAN_TRAIN_ACT is a
 * training plan for the gradients of activations alone (gradient x
 * activation): its backward pass writes no parameter gradient (none is
 * allocated; ndx_net_grads() is left as it was) and stops at the lowest node
 * marked with ndx_net_keep_outputs, whose gradient (and those of the kept
 * nodes after it) ndx_net_grad_output then returns.  Replanning with another
 * batch or mode is allowed; nothing is allocated after planning. */
enum { NDX_PLAN_INFER = 0, NDX_PLAN_TRAIN = 1, NDX_PLAN_INFER_FOLDED = 2, NDX_PLAN_TRAIN_ACT = 3 };
enum { NDX_EVAL = 0, NDX_TRAIN = 1 };
ndx_status ndx_net_plan(ndx_net *net, int batch, int mode);
int ndx_net_batch(const ndx_net *net);
/* Marks the nodes whose outputs an inference plan keeps alive to the end of
 * every forward pass (as ggml marks outputs): one forward up to the last of
 * them then serves them all, where each would otherwise need its own
 * forward.  A kept node inside a fused convolution group gets its own
 * buffer and is computed as a forward stopping there computes it, so its
 * output equals that forward's bit for bit.  Replaces the earlier marks (n =
 * 0 clears them) and drops the current plan: call ndx_net_plan next. */
ndx_status ndx_net_keep_outputs(ndx_net *net, const int *nodes, int n);
/* Planned bytes: the activation arena (activations, with a training plan
 * their gradients and saved statistics, the convolution workspace); the
 * parameter blocks (parameters, gradients, momentum, running statistics, and
 * the batch-norm-folded convolution weights of an inference plan). */
size_t ndx_net_activation_bytes(const ndx_net *net);
size_t ndx_net_param_bytes(const ndx_net *net);

/* Runs x (batch, C, H, W) through the net up to node `until` (-1: all).
 * NDX_TRAIN needs an NDX_PLAN_TRAIN plan. */
ndx_status ndx_net_forward(ndx_net *net, const float *x, int mode, int until);
/* The output of a node after the last forward: a view (batch, C, H, W), or
 * (batch, C) for features.  NDX_ERR_INVALID when its buffer was reused. */
ndx_status ndx_net_output(const ndx_net *net, int node, ndx_tensor *out);
/* After a full NDX_TRAIN forward: back-propagates dlogits (batch, classes),
 * adding every parameter's gradient into ndx_net_grads(). */
ndx_status ndx_net_backward(ndx_net *net, const float *dlogits);
/* Calls fn during every later backward pass that computes parameter
 * gradients, from the calling thread between layers: fn(ctx, g, from, G)
 * with g = ndx_net_grads() (G floats, padding included) each time a
 * layer's gradients are done, from then being the lowest offset from
 * which every gradient of g is final for this pass (decreasing; a last
 * call with from 0 ends the pass, also one that fails).  fn may read
 * g[from, G) and replace it in place (e.g. by its sum over processes,
 * overlapping the pass) until it returns from the last call; a pass that
 * adds to the gradients (no ndx_net_zero_grads before it) then adds to
 * what fn left.  fn NULL: no calls. */
typedef void (*ndx_grads_fn)(void *ctx, float *g, size_t from, size_t G);
ndx_status ndx_net_on_grads(ndx_net *net, ndx_grads_fn fn, void *ctx);
/* After ndx_net_backward: the gradient of the output of node (batch, C, H,
 * W) (the loss's gradient with respect to that activation), for a node
 * marked with ndx_net_keep_outputs before the training plan (its gradient
 * buffer is then not reused); NDX_ERR_INVALID for another node or one that
 * does not reach the output. */
ndx_status ndx_net_grad_output(const ndx_net *net, int node, ndx_tensor *out);
/* Sets every gradient to zero as memset would, without touching memory: the
 * next backward pass stores each gradient instead of adding to it (the large
 * ones are never read or cleared, which saves two passes over them).  Until
 * that pass ndx_net_grads() still holds the old values: call it right before
 * the backward pass, as the memset it replaces. */
void ndx_net_zero_grads(ndx_net *net);
/* The same from the softmax cross-entropy of the output against labels
 * (batch), class_weight (classes) or NULL; *loss (may be NULL) its value. */
ndx_status ndx_net_loss_backward(ndx_net *net, const int *labels, const float *class_weight,
                                 double *loss);

/* ---- the zoo ---------------------------------------------------------------
 * torchvision's module structure and state_dict names: "alexnet", "vgg16",
 * "resnet18", "resnet50", "resnet152", "inception_v3" (no aux head;
 * transform_input off, as torchvision builds it without weights, until
 * ndx_net_set_transform_input or weights whose metadata says so), and
 * "tiny" (5 conv + BN + ReLU, 128-unit last conv, global pool, linear; for
 * 64-128 px patches).  One registry entry per
 * architecture holds what a reader needs to know of it. */
typedef struct ndx_zoo_arch {
    const char *name;           /* "alexnet" */
    int input_size;             /* default H = W: the study's 227 (299 for
                                   inception_v3), 64 for tiny */
    const char *layers[3];      /* the layers the study's experts saw, in
                                   torchvision's names; NULL-terminated */
    const char *about;          /* one line */
} ndx_zoo_arch;
/* The registry's entry for name, or NULL. */
const ndx_zoo_arch *ndx_zoo_find(const char *name);
/* Entry i (0, 1, ...) of the registry; NULL past the last. */
const ndx_zoo_arch *ndx_zoo_arch_at(int i);
/* input_size: H = W; 0: the architecture's default (ndx_zoo_find). */
ndx_status ndx_zoo_build(const char *arch, int num_classes, int input_size, uint64_t seed,
                         ndx_net **out);
/* The same at an input of h x w (e.g. a whole mammogram for a network that
 * runs fully convolutionally up to a global pool); the parameters are the
 * same tensors as at any other size.  h = w = 0: the default size. */
ndx_status ndx_zoo_build_hw(const char *arch, int num_classes, int h, int w, uint64_t seed,
                            ndx_net **out);

/* torchvision's Inception-v3 option transform_input (on by default there
 * with ImageNet weights): the net re-normalises its ImageNet-normalised input
 * x_c to x_c * (std_c / 0.5) + (mean_c - 0.5) / 0.5 before the first layer,
 * the [-1, 1] scaling Google's weights were trained with.  Only nets the
 * builder allows it (inception_v3); NDX_ERR_INVALID for others.  Saved in
 * the safetensors __metadata__ ("transform_input": "1"), and set from it by
 * every load (absent: off), so a model fine-tuned from ImageNet weights
 * exported by tools/export_torchvision.py --pretrained keeps it. */
ndx_status ndx_net_set_transform_input(ndx_net *net, int on);
int ndx_net_transform_input(const ndx_net *net);

/* ---- input ------------------------------------------------------------------
 * Grayscale patches (n, h, w) in [0, 1] -> x (n, 3, h, w) normalised with
 * ImageNet's mean (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225). */
void ndx_gray_to_input(int n, size_t hw, const float *gray, float *x);

/* ---- safetensors -------------------------------------------------------------
 * Reads F32, F16 and BF16 tensors (converted), writes F32, with metadata
 * arch, num_classes, input_size.  Loading names the tensor at fault for
 * missing, extra, misshaped or truncated data; num_batches_tracked and
 * AuxLogits.* are ignored.  flags: NDX_LOAD_EXCEPT_HEAD skips the head
 * (last linear layer) in the file and leaves the net's own. */
enum { NDX_LOAD_EXCEPT_HEAD = 1 };
ndx_status ndx_safetensors_save(const ndx_net *net, const char *path);
ndx_status ndx_safetensors_load_into(ndx_net *net, const char *path, int flags);
/* Reads the metadata (arch up to archsz bytes; 0 where absent). */
ndx_status ndx_safetensors_meta(const char *path, char *arch, size_t archsz,
                                int *num_classes, int *input_size);
/* Builds the net the metadata names and loads every tensor. */
ndx_status ndx_net_load(const char *path, ndx_net **out);
/* Fine-tune set-up: builds `arch` with num_classes, loads everything but the
 * head from path (e.g. ImageNet weights), head fresh (PyTorch default, seed). */
ndx_status ndx_net_load_finetune(const char *path, const char *arch, int num_classes,
                                 int input_size, uint64_t seed, ndx_net **out);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif
#ifdef __cplusplus
}
#endif
#endif

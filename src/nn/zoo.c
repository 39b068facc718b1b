/* The model zoo: torchvision's module structure and state_dict names.
 *
 * Node names are the module paths of torchvision (features.0, layer1.0.conv1,
 * Mixed_5b.branch1x1.conv); functional pieces get names of their own:
 * "flatten"; ResNet blocks "layerL.B.relu1", "layerL.B.relu2" (the ReLU after
 * bn1, bn2), "layerL.B.add" and "layerL.B" (the block output, after the last
 * ReLU), aliases "layerL" for the last block; Inception "X" is BasicConv2d
 * X's output (after its ReLU), "X.pool" a branch's pooling, "Mixed_*" the
 * concatenation; "maxpool1", "maxpool2", "avgpool", "dropout", "fc".
 */
#include <stdio.h>
#include <string.h>

#include "nn_internal.h"

static int alexnet(ndx_net *net, int nc)
{
    int x = 0;
    x = ndx_net_conv(net, "features.0", x, 64, 11, 11, 4, 4, 2, 2, 1, 1);
    x = ndx_net_relu(net, "features.1", x);
    x = ndx_net_maxpool(net, "features.2", x, 3, 2, 0, 0);
    x = ndx_net_conv(net, "features.3", x, 192, 5, 5, 1, 1, 2, 2, 1, 1);
    x = ndx_net_relu(net, "features.4", x);
    x = ndx_net_maxpool(net, "features.5", x, 3, 2, 0, 0);
    x = ndx_net_conv(net, "features.6", x, 384, 3, 3, 1, 1, 1, 1, 1, 1);
    x = ndx_net_relu(net, "features.7", x);
    x = ndx_net_conv(net, "features.8", x, 256, 3, 3, 1, 1, 1, 1, 1, 1);
    x = ndx_net_relu(net, "features.9", x);
    x = ndx_net_conv(net, "features.10", x, 256, 3, 3, 1, 1, 1, 1, 1, 1);
    x = ndx_net_relu(net, "features.11", x);
    x = ndx_net_maxpool(net, "features.12", x, 3, 2, 0, 0);
    x = ndx_net_adaptive_avgpool(net, "avgpool", x, 6, 6);
    x = ndx_net_flatten(net, "flatten", x);
    x = ndx_net_dropout(net, "classifier.0", x, 0.5f);
    x = ndx_net_linear(net, "classifier.1", x, 4096, 1);
    x = ndx_net_relu(net, "classifier.2", x);
    x = ndx_net_dropout(net, "classifier.3", x, 0.5f);
    x = ndx_net_linear(net, "classifier.4", x, 4096, 1);
    x = ndx_net_relu(net, "classifier.5", x);
    return ndx_net_linear(net, "classifier.6", x, nc, 1);
}

static int vgg16(ndx_net *net, int nc)
{
    static const int cfg[] = {64, 64, 0, 128, 128, 0, 256, 256, 256, 0,
                              512, 512, 512, 0, 512, 512, 512, 0};
    int x = 0, m = 0;
    char name[32];
    for (size_t i = 0; i < sizeof cfg / sizeof *cfg; i++) {
        snprintf(name, sizeof name, "features.%d", m++);
        if (!cfg[i]) {
            x = ndx_net_maxpool(net, name, x, 2, 2, 0, 0);
            continue;
        }
        x = ndx_net_conv(net, name, x, cfg[i], 3, 3, 1, 1, 1, 1, 1, 1);
        snprintf(name, sizeof name, "features.%d", m++);
        x = ndx_net_relu(net, name, x);
    }
    x = ndx_net_adaptive_avgpool(net, "avgpool", x, 7, 7);
    x = ndx_net_flatten(net, "flatten", x);
    x = ndx_net_linear(net, "classifier.0", x, 4096, 1);
    x = ndx_net_relu(net, "classifier.1", x);
    x = ndx_net_dropout(net, "classifier.2", x, 0.5f);
    x = ndx_net_linear(net, "classifier.3", x, 4096, 1);
    x = ndx_net_relu(net, "classifier.4", x);
    x = ndx_net_dropout(net, "classifier.5", x, 0.5f);
    return ndx_net_linear(net, "classifier.6", x, nc, 1);
}

/* conv (no bias) + bn, names P.conv#, P.bn# */
static int conv_bn(ndx_net *net, const char *p, const char *cname, const char *bname, int x,
                   int k, int ks, int s, int pad, float eps)
{
    char a[2 * NDX_NAME_MAX], b[2 * NDX_NAME_MAX];
    snprintf(a, sizeof a, "%s%s", p, cname);
    snprintf(b, sizeof b, "%s%s", p, bname);
    x = ndx_net_conv(net, a, x, k, ks, ks, s, s, pad, pad, 1, 0);
    return ndx_net_bn(net, b, x, eps);
}

static int resnet(ndx_net *net, int nc, int bottleneck, const int *blocks)
{
    int x = ndx_net_conv(net, "conv1", 0, 64, 7, 7, 2, 2, 3, 3, 1, 0);
    x = ndx_net_bn(net, "bn1", x, 1e-5f);
    x = ndx_net_relu(net, "relu", x);
    x = ndx_net_maxpool(net, "maxpool", x, 3, 2, 1, 0);
    int inplanes = 64;
    const int exp = bottleneck ? 4 : 1;
    char p[NDX_NAME_MAX], n[2 * NDX_NAME_MAX];
    for (int l = 0; l < 4; l++) {
        const int planes = 64 << l;
        for (int b = 0; b < blocks[l]; b++) {
            const int stride = (b == 0 && l > 0) ? 2 : 1;
            snprintf(p, sizeof p, "layer%d.%d.", l + 1, b);
            int id = x, y;
            if (bottleneck) {
                y = conv_bn(net, p, "conv1", "bn1", x, planes, 1, 1, 0, 1e-5f);
                snprintf(n, sizeof n, "%srelu1", p);
                y = ndx_net_relu(net, n, y);
                y = conv_bn(net, p, "conv2", "bn2", y, planes, 3, stride, 1, 1e-5f);
                snprintf(n, sizeof n, "%srelu2", p);
                y = ndx_net_relu(net, n, y);
                y = conv_bn(net, p, "conv3", "bn3", y, planes * 4, 1, 1, 0, 1e-5f);
            } else {
                y = conv_bn(net, p, "conv1", "bn1", x, planes, 3, stride, 1, 1e-5f);
                snprintf(n, sizeof n, "%srelu1", p);
                y = ndx_net_relu(net, n, y);
                y = conv_bn(net, p, "conv2", "bn2", y, planes, 3, 1, 1, 1e-5f);
            }
            if (stride != 1 || inplanes != planes * exp)
                id = conv_bn(net, p, "downsample.0", "downsample.1", x, planes * exp, 1, stride,
                             0, 1e-5f);
            snprintf(n, sizeof n, "%sadd", p);
            y = ndx_net_add(net, n, y, id);
            snprintf(n, sizeof n, "layer%d.%d", l + 1, b);
            x = ndx_net_relu(net, n, y);
            inplanes = planes * exp;
        }
        snprintf(n, sizeof n, "layer%d", l + 1);
        ndx_net_alias(net, n, x);
    }
    x = ndx_net_adaptive_avgpool(net, "avgpool", x, 1, 1);
    x = ndx_net_flatten(net, "flatten", x);
    return ndx_net_linear(net, "fc", x, nc, 1);
}

/* ---- Inception v3 ------------------------------------------------------------ */

static int bc(ndx_net *net, const char *blk, const char *name, int x, int k, int kh, int kw,
              int s, int ph, int pw)
{
    char a[3 * NDX_NAME_MAX], b[3 * NDX_NAME_MAX], c[2 * NDX_NAME_MAX];
    if (blk) snprintf(c, sizeof c, "%s.%s", blk, name);
    else snprintf(c, sizeof c, "%s", name);
    snprintf(a, sizeof a, "%s.conv", c);
    snprintf(b, sizeof b, "%s.bn", c);
    x = ndx_net_conv(net, a, x, k, kh, kw, s, s, ph, pw, 1, 0);
    x = ndx_net_bn(net, b, x, 1e-3f);
    return ndx_net_relu(net, c, x);
}

static int avg_branch(ndx_net *net, const char *blk, int x, int k)
{
    char n[2 * NDX_NAME_MAX];
    snprintf(n, sizeof n, "%s.branch_pool.pool", blk);
    x = ndx_net_avgpool(net, n, x, 3, 1, 1, 1);
    return bc(net, blk, "branch_pool", x, k, 1, 1, 1, 0, 0);
}

static int inc_a(ndx_net *net, const char *blk, int x, int pf)
{
    int o[4];
    o[0] = bc(net, blk, "branch1x1", x, 64, 1, 1, 1, 0, 0);
    int y = bc(net, blk, "branch5x5_1", x, 48, 1, 1, 1, 0, 0);
    o[1] = bc(net, blk, "branch5x5_2", y, 64, 5, 5, 1, 2, 2);
    y = bc(net, blk, "branch3x3dbl_1", x, 64, 1, 1, 1, 0, 0);
    y = bc(net, blk, "branch3x3dbl_2", y, 96, 3, 3, 1, 1, 1);
    o[2] = bc(net, blk, "branch3x3dbl_3", y, 96, 3, 3, 1, 1, 1);
    o[3] = avg_branch(net, blk, x, pf);
    return ndx_net_concat(net, blk, o, 4);
}

static int inc_b(ndx_net *net, const char *blk, int x)
{
    int o[3];
    char n[2 * NDX_NAME_MAX];
    o[0] = bc(net, blk, "branch3x3", x, 384, 3, 3, 2, 0, 0);
    int y = bc(net, blk, "branch3x3dbl_1", x, 64, 1, 1, 1, 0, 0);
    y = bc(net, blk, "branch3x3dbl_2", y, 96, 3, 3, 1, 1, 1);
    o[1] = bc(net, blk, "branch3x3dbl_3", y, 96, 3, 3, 2, 0, 0);
    snprintf(n, sizeof n, "%s.branch_pool", blk);
    o[2] = ndx_net_maxpool(net, n, x, 3, 2, 0, 0);
    return ndx_net_concat(net, blk, o, 3);
}

static int inc_c(ndx_net *net, const char *blk, int x, int c7)
{
    int o[4];
    o[0] = bc(net, blk, "branch1x1", x, 192, 1, 1, 1, 0, 0);
    int y = bc(net, blk, "branch7x7_1", x, c7, 1, 1, 1, 0, 0);
    y = bc(net, blk, "branch7x7_2", y, c7, 1, 7, 1, 0, 3);
    o[1] = bc(net, blk, "branch7x7_3", y, 192, 7, 1, 1, 3, 0);
    y = bc(net, blk, "branch7x7dbl_1", x, c7, 1, 1, 1, 0, 0);
    y = bc(net, blk, "branch7x7dbl_2", y, c7, 7, 1, 1, 3, 0);
    y = bc(net, blk, "branch7x7dbl_3", y, c7, 1, 7, 1, 0, 3);
    y = bc(net, blk, "branch7x7dbl_4", y, c7, 7, 1, 1, 3, 0);
    o[2] = bc(net, blk, "branch7x7dbl_5", y, 192, 1, 7, 1, 0, 3);
    o[3] = avg_branch(net, blk, x, 192);
    return ndx_net_concat(net, blk, o, 4);
}

static int inc_d(ndx_net *net, const char *blk, int x)
{
    int o[3];
    char n[2 * NDX_NAME_MAX];
    int y = bc(net, blk, "branch3x3_1", x, 192, 1, 1, 1, 0, 0);
    o[0] = bc(net, blk, "branch3x3_2", y, 320, 3, 3, 2, 0, 0);
    y = bc(net, blk, "branch7x7x3_1", x, 192, 1, 1, 1, 0, 0);
    y = bc(net, blk, "branch7x7x3_2", y, 192, 1, 7, 1, 0, 3);
    y = bc(net, blk, "branch7x7x3_3", y, 192, 7, 1, 1, 3, 0);
    o[1] = bc(net, blk, "branch7x7x3_4", y, 192, 3, 3, 2, 0, 0);
    snprintf(n, sizeof n, "%s.branch_pool", blk);
    o[2] = ndx_net_maxpool(net, n, x, 3, 2, 0, 0);
    return ndx_net_concat(net, blk, o, 3);
}

static int inc_e(ndx_net *net, const char *blk, int x)
{
    /* torch.cat of [1x1, cat(3x3_2a, 3x3_2b), cat(dbl_3a, dbl_3b), pool]
     * is one concatenation of the six. */
    int o[6];
    o[0] = bc(net, blk, "branch1x1", x, 320, 1, 1, 1, 0, 0);
    int y = bc(net, blk, "branch3x3_1", x, 384, 1, 1, 1, 0, 0);
    o[1] = bc(net, blk, "branch3x3_2a", y, 384, 1, 3, 1, 0, 1);
    o[2] = bc(net, blk, "branch3x3_2b", y, 384, 3, 1, 1, 1, 0);
    y = bc(net, blk, "branch3x3dbl_1", x, 448, 1, 1, 1, 0, 0);
    y = bc(net, blk, "branch3x3dbl_2", y, 384, 3, 3, 1, 1, 1);
    o[3] = bc(net, blk, "branch3x3dbl_3a", y, 384, 1, 3, 1, 0, 1);
    o[4] = bc(net, blk, "branch3x3dbl_3b", y, 384, 3, 1, 1, 1, 0);
    o[5] = avg_branch(net, blk, x, 192);
    return ndx_net_concat(net, blk, o, 6);
}

static int inception_v3(ndx_net *net, int nc)
{
    net->ti_ok = 1;   /* ndx_net_set_transform_input */
    int x = bc(net, NULL, "Conv2d_1a_3x3", 0, 32, 3, 3, 2, 0, 0);
    x = bc(net, NULL, "Conv2d_2a_3x3", x, 32, 3, 3, 1, 0, 0);
    x = bc(net, NULL, "Conv2d_2b_3x3", x, 64, 3, 3, 1, 1, 1);
    x = ndx_net_maxpool(net, "maxpool1", x, 3, 2, 0, 0);
    x = bc(net, NULL, "Conv2d_3b_1x1", x, 80, 1, 1, 1, 0, 0);
    x = bc(net, NULL, "Conv2d_4a_3x3", x, 192, 3, 3, 1, 0, 0);
    x = ndx_net_maxpool(net, "maxpool2", x, 3, 2, 0, 0);
    x = inc_a(net, "Mixed_5b", x, 32);
    x = inc_a(net, "Mixed_5c", x, 64);
    x = inc_a(net, "Mixed_5d", x, 64);
    x = inc_b(net, "Mixed_6a", x);
    x = inc_c(net, "Mixed_6b", x, 128);
    x = inc_c(net, "Mixed_6c", x, 160);
    x = inc_c(net, "Mixed_6d", x, 160);
    x = inc_c(net, "Mixed_6e", x, 192);
    x = inc_d(net, "Mixed_7a", x);
    x = inc_e(net, "Mixed_7b", x);
    x = inc_e(net, "Mixed_7c", x);
    x = ndx_net_adaptive_avgpool(net, "avgpool", x, 1, 1);
    x = ndx_net_dropout(net, "dropout", x, 0.5f);
    x = ndx_net_flatten(net, "flatten", x);
    return ndx_net_linear(net, "fc", x, nc, 1);
}

/* torchvision's Inception3._transform_input: the ImageNet-normalised
 * input x_c = (v - mean_c) / std_c re-normalised to (v - 0.5) / 0.5, which
 * is what Google's Inception weights were trained on:
 *   x'_c = x_c * (std_c / 0.5) + (mean_c - 0.5) / 0.5
 * in float32 as PyTorch computes it (multiply, then add). */
static const float ti_scale[3] = {(float)(0.229 / 0.5), (float)(0.224 / 0.5),
                                  (float)(0.225 / 0.5)};
static const float ti_shift[3] = {(float)((0.485 - 0.5) / 0.5), (float)((0.456 - 0.5) / 0.5),
                                  (float)((0.406 - 0.5) / 0.5)};

const float *ndx__transform_input(ndx_net *net, const float *x)
{
    float *y = net->act + net->xin_off;
    const size_t hw = (size_t)net->nodes[0].h * net->nodes[0].w;
    for (int b = 0; b < net->batch; b++)
        for (int c = 0; c < 3; c++) {
            const size_t o = ((size_t)b * 3 + c) * hw;
            for (size_t i = 0; i < hw; i++) y[o + i] = x[o + i] * ti_scale[c] + ti_shift[c];
        }
    return y;
}

ndx_status ndx_net_set_transform_input(ndx_net *net, int on)
{
    if (!net) return ndx__fail(NDX_ERR_INVALID, "transform_input: net is NULL");
    if (on && !net->ti_ok)
        return ndx__fail(NDX_ERR_INVALID, "transform_input: %s has no such option (only "
                         "inception_v3, as torchvision)", net->arch);
    net->ti_on = on != 0;
    return NDX_OK;
}

int ndx_net_transform_input(const ndx_net *net) { return net && net->ti_on; }

/* tiny: features = [conv 32, bn, relu, maxpool 2] x (32, 64, 96 channels),
 * then [conv 128, bn, relu] x 2; avgpool (global), flatten, fc.  The same
 * module list as the Tiny class of tools/export_torchvision.py. */
static int tiny(ndx_net *net, int nc)
{
    static const int ch[5] = {32, 64, 96, 128, 128};
    int x = 0, m = 0;
    char n[2 * NDX_NAME_MAX];
    for (int i = 0; i < 5; i++) {
        snprintf(n, sizeof n, "features.%d", m++);
        x = ndx_net_conv(net, n, x, ch[i], 3, 3, 1, 1, 1, 1, 1, 0);
        snprintf(n, sizeof n, "features.%d", m++);
        x = ndx_net_bn(net, n, x, 1e-5f);
        snprintf(n, sizeof n, "features.%d", m++);
        x = ndx_net_relu(net, n, x);
        if (i < 3) {
            snprintf(n, sizeof n, "features.%d", m++);
            x = ndx_net_maxpool(net, n, x, 2, 2, 0, 0);
        }
    }
    x = ndx_net_adaptive_avgpool(net, "avgpool", x, 1, 1);
    x = ndx_net_flatten(net, "flatten", x);
    return ndx_net_linear(net, "fc", x, nc, 1);
}

static int resnet18(ndx_net *net, int nc)
{
    static const int blocks[4] = {2, 2, 2, 2};
    return resnet(net, nc, 0, blocks);
}

static int resnet50(ndx_net *net, int nc)
{
    static const int blocks[4] = {3, 4, 6, 3};
    return resnet(net, nc, 1, blocks);
}

static int resnet152(ndx_net *net, int nc)
{
    static const int blocks[4] = {3, 8, 36, 3};
    return resnet(net, nc, 1, blocks);
}

/* ---- the registry ---------------------------------------------------------------
 * The one place an architecture's builder, default input size and dissected
 * layers are written; every reader (training, loading a file without
 * input_size, netdx infer and info) asks here.
 *
 * Input sizes are the study's: patches resized to 227 x 227, 299 for
 * Inception-v3 (torchvision's own models are shown 224 and 299; with
 * adaptive pooling before the classifier every size from the minimum up
 * runs the same weights).  tiny: 64 px patches, as the demo trains it.
 * Layers: what the study's experts saw, in torchvision's names (AlexNet
 * conv5 and VGG-16 conv5_3 hooked before their ReLU); resnet18 and resnet50
 * the stages of the study's ResNet-152; tiny (not in the study) the output
 * of its last block, which the demo dissects. */
static const struct zoo_entry {
    ndx_zoo_arch info;
    int (*build)(ndx_net *net, int num_classes);   /* returns the logits node */
} zoo[] = {
    {{"alexnet", 227, {"features.10"}, "AlexNet (torchvision), conv5 = features.10"}, alexnet},
    {{"vgg16", 227, {"features.28"}, "VGG-16 (torchvision), conv5_3 = features.28"}, vgg16},
    {{"resnet18", 227, {"layer3", "layer4"}, "ResNet-18 (torchvision)"}, resnet18},
    {{"resnet50", 227, {"layer3", "layer4"}, "ResNet-50 (torchvision)"}, resnet50},
    {{"resnet152", 227, {"layer3", "layer4"}, "ResNet-152 (torchvision)"}, resnet152},
    {{"inception_v3", 299, {"Mixed_7a", "Mixed_7c"},
      "Inception-v3 (torchvision, no aux head; transform_input as its weights say)"},
     inception_v3},
    {{"tiny", 64, {"features.17"}, "5 conv + BN + ReLU blocks, global pool, linear; for "
      "64-128 px patches"}, tiny},
};
#define NZOO ((int)(sizeof zoo / sizeof *zoo))

const ndx_zoo_arch *ndx_zoo_arch_at(int i)
{
    return i >= 0 && i < NZOO ? &zoo[i].info : NULL;
}

static int find(const char *name)
{
    for (int i = 0; name && i < NZOO; i++)
        if (!strcmp(name, zoo[i].info.name)) return i;
    return -1;
}

const ndx_zoo_arch *ndx_zoo_find(const char *name)
{
    const int i = find(name);
    return i < 0 ? NULL : &zoo[i].info;
}

ndx_status ndx_zoo_build(const char *arch, int num_classes, int input_size, uint64_t seed,
                         ndx_net **out)
{
    return ndx_zoo_build_hw(arch, num_classes, input_size, input_size, seed, out);
}

ndx_status ndx_zoo_build_hw(const char *arch, int num_classes, int h, int w, uint64_t seed,
                            ndx_net **out)
{
    *out = NULL;
    if (!arch) return ndx__fail(NDX_ERR_INVALID, "zoo: no architecture named");
    const int k = find(arch);
    if (k < 0) {
        char names[256] = "";
        for (int i = 0, len = 0; i < NZOO && len >= 0 && (size_t)len < sizeof names; i++)
            len += snprintf(names + len, sizeof names - (size_t)len, "%s%s", i ? ", " : "",
                            zoo[i].info.name);
        return ndx__fail(NDX_ERR_INVALID, "zoo: unknown architecture '%s' (%s)", arch, names);
    }
    if (num_classes < 1 || num_classes > 100000)
        return ndx__fail(NDX_ERR_INVALID, "zoo: %d classes (1..100000)", num_classes);
    if (!h && !w) h = w = zoo[k].info.input_size;
    if (h < 1 || h > 8192 || w < 1 || w > 8192)
        return ndx__fail(NDX_ERR_INVALID, "zoo: input size %dx%d (1..8192)", h, w);
    ndx_net *net = ndx_net_new(arch, 3, h, w);
    if (!net) return NDX_ERR_NOMEM;
    zoo[k].build(net, num_classes);
    ndx_status st = ndx_net_finish(net, seed);
    if (st) {
        ndx__fail(st, "%s at input size %dx%d: %s", arch, h, w, ndx_last_error());
        ndx_net_free(net);
        return st;
    }
    *out = net;
    return NDX_OK;
}

/* netdx infer: run a model on a batch (.npy or a PNG), print logits and
 * probabilities or write them (or a tapped layer's output) to .npy; with
 * --repeat, time it.  cmd_infer: parse, load, run, print.  Also `netdx info --model M`: the model's tappable nodes
 * and their output shapes. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"
#include "netdx.h"
#include "netdx_nn.h"

static const char *op_name(ndx_op op)
{
    static const char *const names[] = {"input", "conv", "batchnorm", "relu", "maxpool",
                                        "avgpool", "adaptive_avgpool", "linear", "dropout",
                                        "concat", "add", "flatten"};
    return (unsigned)op < sizeof names / sizeof *names ? names[op] : "?";
}

static int is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* A net from a safetensors file (weights loaded) or a zoo name (seeded random
 * weights); input_size 0 = the file's or the architecture's default (the zoo
 * registry's). */
static ndx_status open_model(const char *model, int classes, int input_size, uint64_t seed,
                             ndx_net **net)
{
    if (is_file(model) || strchr(model, '/') || strchr(model, '.')) {
        char arch[32];
        int nc, size;
        ndx_status st = ndx_safetensors_meta(model, arch, sizeof arch, &nc, &size);
        if (st) return st;
        if (!input_size || input_size == size) return ndx_net_load(model, net);
        st = ndx_zoo_build(arch, nc, input_size, 0, net);
        if (!st) st = ndx_safetensors_load_into(*net, model, 0);
        if (st) ndx_net_free(*net), *net = NULL;
        return st;
    }
    return ndx_zoo_build(model, classes, input_size, seed, net);   /* 0: the registry's size */
}

int cli_model_info(const char *model, int input_size)
{
    ndx_net *net;
    if (open_model(model, 2, input_size, 0, &net)) return cli_fail("info");
    size_t np = 0;
    ndx_net_params(net, &np);
    printf("arch: %s\nclasses: %d\ninput: (3,%d,%d)\nparameters: %zu floats in %d tensors\n",
           ndx_net_arch(net), ndx_net_num_classes(net), ndx_net_input_size(net),
           ndx_net_input_size(net), np, ndx_net_num_tensors(net));
    if (ndx_net_plan(net, 1, NDX_PLAN_INFER) == NDX_OK)
        printf("planned activations, batch 1, inference: %.1f MiB\n",
               ndx_net_activation_bytes(net) / 1048576.0);
    printf("\n%-40s %-16s %s\n", "node", "op", "output (C,H,W)");
    for (int i = 1; i < ndx_net_num_nodes(net); i++) {
        int c, h, w;
        ndx_net_node_shape(net, i, &c, &h, &w);
        printf("%-40s %-16s (%d,%d,%d)\n", ndx_net_node_name(net, i),
               op_name(ndx_net_node_op(net, i)), c, h, w);
    }
    ndx_net_free(net);
    return EXIT_OK;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int oom(void)
{
    fprintf(stderr, "netdx infer: out of memory\n");
    return EXIT_FAILED;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: netdx infer (--model M.safetensors | --arch NAME --random-init SEED)\n"
            "                   (--input X.npy | --image F.png) [--layer NAME] [--out Y.npy]\n"
            "                   [--threads T] [--batch B] [--repeat R] [--num-classes N]\n"
            "Runs the model in eval mode on X (N,3,H,W float32; (N,H,W) or (H,W) grayscale\n"
            "in [0,1] is expanded to 3 channels and ImageNet-normalised) or on a PNG (gray,\n"
            "resized with an area filter to the model's input size).  Prints logits and\n"
            "softmax probabilities per image, or with --out writes the logits, or the\n"
            "output of node --layer (see `netdx info --model M`), to a .npy file.\n"
            "--batch B: images per forward (default: all); --repeat R: run R times and print\n"
            "the median images/s and the peak RSS.  --arch NAME --random-init SEED builds a\n"
            "zoo model with seeded random weights (for benchmarks).\n");
}

/* The command line of netdx infer. */
typedef struct infer_opts {
    const char *model, *arch, *input, *image, *layer, *out;
    long threads, batch, repeat, classes;
    uint64_t seed;
    int have_seed;
} infer_opts;

/* EXIT_OK to go on, -1 after --help, EXIT_USAGE on a bad command line. */
static int parse(int argc, char **argv, infer_opts *o)
{
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'}, {"arch", required_argument, 0, 'a'},
        {"random-init", required_argument, 0, 's'}, {"input", required_argument, 0, 'i'},
        {"image", required_argument, 0, 'g'}, {"layer", required_argument, 0, 'l'},
        {"out", required_argument, 0, 'o'}, {"threads", required_argument, 0, 't'},
        {"batch", required_argument, 0, 'b'}, {"repeat", required_argument, 0, 'r'},
        {"num-classes", required_argument, 0, 'n'}, {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    memset(o, 0, sizeof *o);
    o->classes = 2;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': o->model = optarg; break;
        case 'a': o->arch = optarg; break;
        case 's': if (cli_u64("infer", "random-init", optarg, &o->seed)) return EXIT_USAGE;
                  o->have_seed = 1; break;
        case 'i': o->input = optarg; break;
        case 'g': o->image = optarg; break;
        case 'l': o->layer = optarg; break;
        case 'o': o->out = optarg; break;
        case 't': if (cli_int("infer", "threads", optarg, 1, 1024, &o->threads)) return EXIT_USAGE; break;
        case 'b': if (cli_int("infer", "batch", optarg, 1, 65536, &o->batch)) return EXIT_USAGE; break;
        case 'r': if (cli_int("infer", "repeat", optarg, 1, 1000000, &o->repeat)) return EXIT_USAGE; break;
        case 'n': if (cli_int("infer", "num-classes", optarg, 1, 100000, &o->classes)) return EXIT_USAGE; break;
        case 'h': usage(stdout); return -1;
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    if (cli_no_args("infer", argc, argv, optind)) return EXIT_USAGE;
    if (!o->model == !o->arch || (o->arch && !o->have_seed) || (o->model && o->have_seed)) {
        fprintf(stderr, "netdx infer: give --model M.safetensors, or --arch NAME with "
                        "--random-init SEED\n");
        return EXIT_USAGE;
    }
    if (!o->input == !o->image) {
        fprintf(stderr, "netdx infer: give one of --input X.npy and --image F.png\n");
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

/* The batch x (n, 3, s, s) and the net: from a .npy (the net built for its
 * size) or a PNG (resized to the net's input size).  0 or EXIT_FAILED. */
static int load(const infer_opts *o, ndx_net **net, float **x, int *n, int *s)
{
    const char *model = o->model ? o->model : o->arch;
    if (o->image) {
        if (open_model(model, (int)o->classes, 0, o->seed, net)) return cli_fail("infer");
        *n = 1;
        *s = ndx_net_input_size(*net);
        ndx_image img;
        if (ndx_image_read(o->image, 0, &img, NULL)) return cli_fail("infer");
        float *g = malloc((size_t)*s * *s * sizeof *g);
        *x = ndx_alloc((size_t)3 * *s * *s * sizeof **x);
        const int ok = g && *x;
        if (ok) {
            ndx_resize_area_u16(img.px, img.w, 0, 0, img.w, img.h, img.maxval, *s, *s, g);
            ndx_gray_to_input(1, (size_t)*s * *s, g, *x);
        }
        free(g);
        ndx_image_free(&img);
        return ok ? EXIT_OK : oom();
    }
    ndx_tensor in;
    if (ndx_npy_read(o->input, &in)) return cli_fail("infer");
    const int nd = in.ndim, gray = nd == 2 || nd == 3;
    if (!(gray || (nd == 4 && in.shape[1] == 3)) || in.shape[nd - 1] != in.shape[nd - 2]) {
        char buf[64];
        fprintf(stderr, "netdx infer: %s: shape %s; expected (N,3,S,S), (N,S,S) or (S,S)\n",
                o->input, ndx_tensor_shape_str(&in, buf, sizeof buf));
        ndx_tensor_free(&in);
        return EXIT_FAILED;
    }
    *n = nd == 2 ? 1 : (int)in.shape[0];
    *s = (int)in.shape[nd - 1];
    if (gray) {   /* expanded to 3 channels, ImageNet-normalised */
        *x = ndx_alloc((size_t)*n * 3 * *s * *s * sizeof **x);
        if (*x) ndx_gray_to_input(*n, (size_t)*s * *s, in.data, *x);
        ndx_tensor_free(&in);
        if (!*x) return oom();
    } else {
        *x = in.data;   /* taken over from the tensor */
    }
    if (open_model(model, (int)o->classes, *s, o->seed, net)) return cli_fail("infer");
    return EXIT_OK;
}

/* x (n, 3, s, s) through the net up to node in batches of B, reps times:
 * y (n, per_out) and each repetition's seconds.  0 or EXIT_FAILED. */
static int run(ndx_net *net, const float *x, int n, int s, int B, int node, long reps,
               float *y, double *times)
{
    int oc, oh, ow;
    ndx_net_node_shape(net, node, &oc, &oh, &ow);
    const size_t per_in = (size_t)3 * s * s, per_out = (size_t)oc * oh * ow;
    float *pad = n % B ? calloc((size_t)B * per_in, sizeof *pad) : NULL;
    if (n % B && !pad) return oom();
    int rc = EXIT_OK;
    for (long r = 0; r < reps && rc == EXIT_OK; r++) {
        const double t0 = now();
        for (int i = 0; i < n && rc == EXIT_OK; i += B) {
            const int m = n - i < B ? n - i : B;
            const float *xb = x + (size_t)i * per_in;
            if (m < B) {   /* the last, partial batch: padded with zeros */
                memcpy(pad, xb, (size_t)m * per_in * sizeof *pad);
                xb = pad;
            }
            ndx_tensor out;
            if (ndx_net_forward(net, xb, NDX_EVAL, node) || ndx_net_output(net, node, &out))
                rc = cli_fail("infer");
            else
                memcpy(y + (size_t)i * per_out, out.data, (size_t)m * per_out * sizeof *y);
        }
        times[r] = now() - t0;
    }
    free(pad);
    return rc;
}

/* Logits and softmax probabilities of each image, or the tapped layer's shape. */
static void print_outputs(const float *y, int n, int oc, size_t per_out, const char *layer,
                          int oh, int ow)
{
    for (int i = 0; i < n; i++) {
        const float *z = y + (size_t)i * per_out;
        if (layer) {
            printf("%d: %s (%d,%d,%d)\n", i, layer, oc, oh, ow);
            continue;
        }
        double m = z[0], sum = 0;
        for (int k = 1; k < oc; k++) m = fmax(m, z[k]);
        for (int k = 0; k < oc; k++) sum += exp(z[k] - m);
        printf("%d: logits", i);
        for (int k = 0; k < oc; k++) printf(" %.6g", z[k]);
        printf("  probabilities");
        for (int k = 0; k < oc; k++) printf(" %.6f", exp(z[k] - m) / sum);
        printf("\n");
    }
}

/* --repeat: the median throughput, peak RSS and the planned activations. */
static void print_timing(const ndx_net *net, int n, int B, double *times, long reps)
{
    qsort(times, (size_t)reps, sizeof *times, cmp_double);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("%s batch %d threads %d kernels %s: %.2f images/s (median of %ld), peak RSS "
           "%.1f MiB, planned activations %.1f MiB\n",
           ndx_net_arch(net), B, ndx_get_threads(), ndx_kernel_set(), n / times[reps / 2],
           reps, ru.ru_maxrss / 1024.0, ndx_net_activation_bytes(net) / 1048576.0);
}

int cmd_infer(int argc, char **argv)
{
    infer_opts o;
    int rc = parse(argc, argv, &o);
    if (rc) return rc < 0 ? EXIT_OK : rc;
    if (o.threads && ndx_set_threads((int)o.threads) != NDX_OK) return cli_fail("infer");
    ndx_net *net = NULL;
    float *x = NULL, *y = NULL;
    double *times = NULL;
    int n = 0, s = 0, node = -1;
    ndx_ioplan *io = NULL;   /* --out checked and locked before any work */
    if (ndx_ioplan_new("infer", &io) || ndx_ioplan_input(io, "--model", o.model, NULL) ||
        ndx_ioplan_input(io, "--input", o.input, NULL) ||
        ndx_ioplan_input(io, "--image", o.image, NULL) ||
        ndx_ioplan_output(io, "--out", o.out, NDX_OUT_FILE) || ndx_ioplan_begin(io)) {
        rc = cli_fail("infer");
        goto done;
    }
    if ((rc = load(&o, &net, &x, &n, &s))) goto done;
    node = ndx_net_num_nodes(net) - 1;
    if (o.layer && (node = ndx_net_find(net, o.layer)) < 1) {
        fprintf(stderr, "netdx infer: %s has no node '%s' (see netdx info --model)\n",
                ndx_net_arch(net), o.layer);
        rc = EXIT_FAILED;
        goto done;
    }
    const int B = o.batch && o.batch < n ? (int)o.batch : n;
    /* batch norm folded into the weights in place (one copy of them), unless
     * the tapped node is a convolution (whose output is before its BN) */
    const int plan = ndx_net_node_op(net, node) == NDX_OP_CONV ? NDX_PLAN_INFER
                                                                : NDX_PLAN_INFER_FOLDED;
    if (ndx_net_plan(net, B, plan)) {
        rc = cli_fail("infer");
        goto done;
    }
    int oc, oh, ow;
    ndx_net_node_shape(net, node, &oc, &oh, &ow);
    const size_t per_out = (size_t)oc * oh * ow;
    const long reps = o.repeat ? o.repeat : 1;
    y = malloc((size_t)n * per_out * sizeof *y);
    times = malloc((size_t)reps * sizeof *times);
    if (!y || !times) {
        rc = oom();
        goto done;
    }
    if ((rc = run(net, x, n, s, B, node, reps, y, times))) goto done;
    if (o.out) {
        int64_t shape[4] = {n, oc, oh, ow};
        const int feat = oh == 1 && ow == 1 && node == ndx_net_num_nodes(net) - 1;
        ndx_tensor t;
        if (ndx_tensor_view(&t, y, feat ? 2 : 4, shape) || ndx_npy_write(o.out, &t))
            rc = cli_fail("infer");
    } else if (!o.repeat) {
        print_outputs(y, n, oc, per_out, o.layer, oh, ow);
    }
    if (!rc && o.repeat) print_timing(net, n, B, times, reps);
done:
    ndx_ioplan_free(io);
    free(y);
    free(times);
    ndx_free(x);   /* ndx_alloc'd here or by ndx_npy_read */
    ndx_net_free(net);
    return rc;
}

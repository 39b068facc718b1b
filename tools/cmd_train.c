/* netdx train | eval: fine-tuning with validation AUC and checkpoints, and
 * scoring a split with a trained model.  The loop is ndx_train()
 * (src/train/loop.c); this file parses options and shows progress. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "netdx.h"

typedef struct progress_ctx {
    cli_progress bar;
    int epoch;           /* of the bar shown, 0 = none */
    long batch;          /* images per batch */
    int ranks;           /* under mpirun, 1 alone */
    char what[64];
} progress_ctx;

static void on_progress(void *ctx, const ndx_train_progress *p)
{
    progress_ctx *c = ctx;
    if (p->done) {
        if (c->epoch) cli_progress_end(&c->bar);
        c->epoch = 0;
        const ndx_epoch_metrics *m = p->done;
        printf("epoch %d/%d  train loss %.4f acc %.3f  val loss %.4f acc %.3f AUC %.4f  "
               "%.0f s  %.1f img/s\n", m->epoch, p->epochs, m->train_loss, m->train_accuracy,
               m->val_loss, m->val_accuracy, m->val_auc, m->seconds, m->images_per_s);
        fflush(stdout);
        return;
    }
    if (c->epoch != p->epoch) {
        if (c->ranks > 1)
            snprintf(c->what, sizeof c->what, "epoch %d/%d, %d ranks", p->epoch, p->epochs,
                     c->ranks);
        else
            snprintf(c->what, sizeof c->what, "epoch %d/%d", p->epoch, p->epochs);
        cli_progress_start(&c->bar, c->what, "img", p->batches * c->batch);
        c->epoch = p->epoch;
        return;   /* the epoch's first call comes before its first batch */
    }
    char extra[64];
    snprintf(extra, sizeof extra, "batch %ld/%ld loss %.4f", p->batch, p->batches, p->loss);
    cli_progress_update(&c->bar, p->batch * c->batch, extra);
}

static void on_note(void *ctx, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "netdx train: warning: %s\n", msg);
}

static int bad_word(const char *opt, const char *arg, const char *want)
{
    fprintf(stderr, "netdx train: --%s: '%s' is not %s\n", opt, arg, want);
    return EXIT_USAGE;
}

static void train_help(void)
{
    printf("usage: netdx train --arch NAME --data DIR --out model.safetensors\n"
           "         [--weights imagenet.safetensors] [--epochs N] [--batch B]\n"
           "         [--lr 1e-4] [--momentum 0.9] [--weight-decay 1e-4]\n"
           "         [--input-size S] [--seed S] [--threads T] [--flips]\n"
           "         [--checkpoint-every N] [--checkpoint FILE] [--resume CKPT]\n"
           "         [--sampler balanced|shuffle] [--lr-step EPOCHS] [--lr-gamma 0.1]\n"
           "         [--keep best|last] [--classes 2|3] [--parts P]\n"
           "Fine-tunes NAME with SGD on the training patches of DIR/patches.csv:\n"
           "--classes 2 malignant or not, 3 no cancer / benign / malignant (the AUC\n"
           "is malignant vs the rest); --sampler balanced (half the draws malignant)\n"
           "or shuffle (each patch once per epoch, the study's); the rate times\n"
           "--lr-gamma every --lr-step epochs.  Every epoch the validation\n"
           "loss, accuracy and ROC AUC, the model kept in --out (--keep best: the\n"
           "best validation AUC, optimistic for that split; last: the study's), and a\n"
           "checkpoint (default <out>.ckpt; also every N batches with\n"
           "--checkpoint-every).  --weights loads a backbone and replaces its last\n"
           "layer.  --resume continues a checkpoint exactly where it stopped.  At\n"
           "the end metrics.json, roc.png and loss.png are written beside --out\n"
           "and the test-split AUC is printed.  Defaults: --epochs 10 --batch 32\n"
           "--seed 1 --sampler balanced --keep best --classes 2, no step decay, the\n"
           "architecture's input size (netdx info lists them), the paper's\n"
           "optimiser settings.  --parts P cuts every batch into P parts run one\n"
           "after the other (batch norm per part), gradients summed in order: what\n"
           "mpirun -np P netdx train does with one part per rank, bit for bit.\n"
           "See docs/training.md and docs/mpi.md.\n");
}

/* The run (under mpirun: this rank's part of every batch, summed; rank 0
 * alone shows progress and prints), then the kept model and test AUC. */
static int train_run(ndx_train_opts *o)
{
    const int mpi = cli_mpi_train(o);   /* under mpirun: this rank's part, summed */
    if (mpi) return mpi;
    progress_ctx pc = {0};
    pc.batch = o->batch;
    pc.ranks = cli_mpi_size();
    if (o->rank == 0) {   /* only rank 0 speaks */
        o->progress = on_progress;
        o->progress_ctx = &pc;
        o->note = on_note;
    }
    double test_auc;
    if (ndx_train(o, &test_auc) != NDX_OK) {
        if (pc.epoch) cli_progress_end(&pc.bar);
        return cli_fail("train");
    }
    if (o->rank != 0) return EXIT_OK;
    cli_mpi_train_summary();
    printf("%s model: %s\n", o->keep == NDX_KEEP_LAST ? "last" : "best", o->out);
    if (isnan(test_auc))
        printf("test AUC: n/a (the test split lacks patches of one class)\n");
    else
        printf("test AUC: %.4f\n", test_auc);
    return EXIT_OK;
}

int cmd_train(int argc, char **argv)
{
    static const struct option opts[] = {
        {"arch", required_argument, 0, 'a'},         {"data", required_argument, 0, 'd'},
        {"weights", required_argument, 0, 'W'},      {"epochs", required_argument, 0, 'e'},
        {"batch", required_argument, 0, 'b'},        {"lr", required_argument, 0, 'l'},
        {"momentum", required_argument, 0, 'm'},     {"weight-decay", required_argument, 0, 'w'},
        {"input-size", required_argument, 0, 'S'},   {"seed", required_argument, 0, 's'},
        {"threads", required_argument, 0, 't'},      {"out", required_argument, 0, 'o'},
        {"resume", required_argument, 0, 'r'},       {"checkpoint", required_argument, 0, 'c'},
        {"checkpoint-every", required_argument, 0, 'k'}, {"flips", no_argument, 0, 'f'},
        {"sampler", required_argument, 0, 'P'},      {"lr-step", required_argument, 0, 'L'},
        {"lr-gamma", required_argument, 0, 'g'},     {"keep", required_argument, 0, 'K'},
        {"classes", required_argument, 0, 'C'},      {"parts", required_argument, 0, 'p'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    ndx_train_opts o;
    ndx_train_defaults(&o);
    o.arch = NULL;
    long v;
    int c;
    optind = 1;
    const char *shorts = "a:d:W:e:b:l:m:w:S:s:t:o:r:c:k:fP:L:g:K:C:p:h";
    while ((c = getopt_long(argc, argv, shorts, opts, NULL)) != -1) {
        switch (c) {
        case 'a': o.arch = optarg; break;
        case 'd': o.data_dir = optarg; break;
        case 'W': o.weights = optarg; break;
        case 'o': o.out = optarg; break;
        case 'r': o.resume = optarg; break;
        case 'c': o.checkpoint = optarg; break;
        case 'f': o.flips = 1; break;
        case 'P':
            if (!strcmp(optarg, "shuffle")) o.sampler = NDX_SAMPLER_SHUFFLE;
            else if (!strcmp(optarg, "balanced")) o.sampler = NDX_SAMPLER_BALANCED;
            else return bad_word("sampler", optarg, "shuffle or balanced");
            break;
        case 'K':
            if (!strcmp(optarg, "best")) o.keep = NDX_KEEP_BEST;
            else if (!strcmp(optarg, "last")) o.keep = NDX_KEEP_LAST;
            else return bad_word("keep", optarg, "best or last");
            break;
        case 'C':
            if (cli_int("train", "classes", optarg, 2, 3, &v)) return EXIT_USAGE;
            o.classes = (int)v;
            break;
        case 'p':
            if (cli_int("train", "parts", optarg, 1, 65536, &v)) return EXIT_USAGE;
            o.parts = (int)v;
            break;
        case 'L':
            if (cli_int("train", "lr-step", optarg, 0, 100000, &v)) return EXIT_USAGE;
            o.lr_step = (int)v;
            break;
        case 'g':
            if (cli_double("train", "lr-gamma", optarg, 1e-6, 1, &o.lr_gamma)) return EXIT_USAGE;
            break;
        case 'e':
            if (cli_int("train", "epochs", optarg, 1, 100000, &v)) return EXIT_USAGE;
            o.epochs = (int)v;
            break;
        case 'b':
            if (cli_int("train", "batch", optarg, 1, 65536, &v)) return EXIT_USAGE;
            o.batch = (int)v;
            break;
        case 'S':
            if (cli_int("train", "input-size", optarg, 16, 1024, &v)) return EXIT_USAGE;
            o.input_size = (int)v;
            break;
        case 't':
            if (cli_int("train", "threads", optarg, 1, 1024, &v)) return EXIT_USAGE;
            o.threads = (int)v;
            break;
        case 'k':
            if (cli_int("train", "checkpoint-every", optarg, 0, 1L << 30, &v)) return EXIT_USAGE;
            o.checkpoint_every = (int)v;
            break;
        case 's':
            if (cli_u64("train", "seed", optarg, &o.seed)) return EXIT_USAGE;
            break;
        case 'l':
            if (cli_double("train", "lr", optarg, 1e-12, 10, &o.lr)) return EXIT_USAGE;
            break;
        case 'm':
            if (cli_double("train", "momentum", optarg, 0, 0.9999, &o.momentum)) return EXIT_USAGE;
            break;
        case 'w':
            if (cli_double("train", "weight-decay", optarg, 0, 1, &o.weight_decay))
                return EXIT_USAGE;
            break;
        case 'h':
            train_help();
            return EXIT_OK;
        default: return EXIT_USAGE;
        }
    }
    if (cli_no_args("train", argc, argv, optind)) return EXIT_USAGE;
    if (!o.arch || !o.data_dir || !o.out) {
        fprintf(stderr, "netdx train: --arch, --data and --out are required (see --help)\n");
        return EXIT_USAGE;
    }
    return train_run(&o);
}

int cmd_eval(int argc, char **argv)
{
    static const struct option opts[] = {
        {"model", required_argument, 0, 'M'}, {"data", required_argument, 0, 'd'},
        {"split", required_argument, 0, 'p'}, {"batch", required_argument, 0, 'b'},
        {"threads", required_argument, 0, 't'}, {"roc", required_argument, 0, 'r'},
        {"scores", required_argument, 0, 'c'}, {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *model = NULL, *data = NULL, *roc = NULL, *scores = NULL;
    int split = NDX_SPLIT_VAL, batch = 32, threads = 0;
    long v;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "M:d:p:b:t:r:c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'M': model = optarg; break;
        case 'd': data = optarg; break;
        case 'r': roc = optarg; break;
        case 'c': scores = optarg; break;
        case 'p':
            if (!strcmp(optarg, "val")) split = NDX_SPLIT_VAL;
            else if (!strcmp(optarg, "test")) split = NDX_SPLIT_TEST;
            else if (!strcmp(optarg, "train")) split = NDX_SPLIT_TRAIN;
            else {
                fprintf(stderr, "netdx eval: --split: '%s' is not val, test or train\n", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'b':
            if (cli_int("eval", "batch", optarg, 1, 65536, &v)) return EXIT_USAGE;
            batch = (int)v;
            break;
        case 't':
            if (cli_int("eval", "threads", optarg, 1, 1024, &v)) return EXIT_USAGE;
            threads = (int)v;
            break;
        case 'h':
            printf("usage: netdx eval --model M.safetensors --data DIR [--split val|test]\n"
                   "         [--roc roc_<split>.png] [--scores scores_<split>.csv]\n"
                   "         [--batch 32] [--threads T]\n"
                   "Scores the patches of one split of DIR/patches.csv with the model and\n"
                   "prints the ROC AUC and the accuracy; writes the ROC curve as PNG and\n"
                   "one CSV row per patch (patch,image,x,y,w,h,label,score), the score\n"
                   "being the model's probability of malignancy.\n");
            return EXIT_OK;
        default: return EXIT_USAGE;
        }
    }
    if (cli_no_args("eval", argc, argv, optind)) return EXIT_USAGE;
    if (!model || !data) {
        fprintf(stderr, "netdx eval: --model and --data are required (see --help)\n");
        return EXIT_USAGE;
    }
    if (threads && ndx_set_threads(threads) != NDX_OK)
        return cli_fail("eval");
    char roc_def[64], scores_def[64];
    snprintf(roc_def, sizeof roc_def, "roc_%s.png", ndx_split_name(split));
    snprintf(scores_def, sizeof scores_def, "scores_%s.csv", ndx_split_name(split));
    double auc, acc;
    if (ndx_eval(model, data, split, batch, roc ? roc : roc_def, scores ? scores : scores_def,
                 &auc, &acc) != NDX_OK)
        return cli_fail("eval");
    printf("split: %s\n", ndx_split_name(split));
    if (isnan(auc))
        printf("AUC: n/a (the %s split has patches of one class only)\n", ndx_split_name(split));
    else
        printf("AUC: %.4f\n", auc);
    printf("accuracy: %.4f\nroc: %s\nscores: %s\n", acc,
           isnan(auc) ? "not written (one class)" : roc ? roc : roc_def,
           scores ? scores : scores_def);
    return EXIT_OK;
}

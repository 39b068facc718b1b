/* netdx as an MPI program (docs/mpi.md).  Built with -DNDX_MPI and mpicc's
 * flags when make finds mpicc (MPI=1 forces, MPI=0 disables); the library
 * never sees MPI.  MPI starts only when a launcher's environment says so
 * (OMPI_COMM_WORLD_SIZE, PMI_SIZE, PMIX_RANK); a netdx built without MPI
 * and launched with more than one rank refuses to run.
 *
 * Dissection: rank r dissects shard r of P; the states are merged by a
 * tree (at step k = 1, 2, 4, ... rank r, a multiple of 2k, receives from
 * r + k), each state sent as its .dstate bytes (ndx_dissect_save_mem,
 * in memory); rank 0 writes.
 *
 * Training: rank r runs part r of P of every batch; the gradients are
 * summed in rank order (allreduce below), their tail in buckets during
 * the backward pass (grads_ready); each rank preloads and validates its
 * share, the rest gathered (gather below); rank 0 writes. */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "netdx.h"
#include "netdx_dissect.h"

static int mpi_rank, mpi_size = 1;

static int launched_size(void)
{
    const char *v = getenv("OMPI_COMM_WORLD_SIZE");
    if (!v) v = getenv("PMI_SIZE");
    return v ? atoi(v) : 1;
}

#ifdef NDX_MPI
#include <mpi.h>

static int mpi_on, one_node;
static MPI_Comm comm_scatter = MPI_COMM_NULL, comm_gather = MPI_COMM_NULL;   /* the gradient
                                           sum's two steps (MPI_Comm_dup, training) */

/* An MPI step that failed: said on stderr (the library's message is not
 * ours to set); the caller's exit stops every rank (cli_mpi_end). */
static ndx_status ndx_fail_io(const char *what)
{
    fprintf(stderr, "netdx: rank %d: %s failed\n", mpi_rank, what);
    return NDX_ERR_IO;
}

/* Every rank on one node (Open MPI says how many share this one): its
 * shared-memory transports, unless the user chose the point-to-point
 * layer or the transports (then theirs).  As installed, MPI_Init probes
 * UCX, libfabric and openib first: 0.2 s of a job's start. */
static void one_node_transports(void)
{
    const char *local = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
    const char *all = getenv("OMPI_COMM_WORLD_SIZE");
    if (!local || !all || strcmp(local, all) || getenv("OMPI_MCA_pml") || getenv("OMPI_MCA_btl") ||
        getenv("OMPI_MCA_osc") || getenv("NETDX_MPI_TRANSPORTS"))
        return;
    one_node = !setenv("OMPI_MCA_pml", "ob1", 0) && !setenv("OMPI_MCA_btl", "self,vader", 0) &&
               !setenv("OMPI_MCA_osc", "^ucx", 0);
}

int cli_mpi_start(int *argc, char ***argv)
{
    if (launched_size() <= 1 && !getenv("PMIX_RANK")) return 0;
    one_node_transports();
    if (MPI_Init(argc, argv) != MPI_SUCCESS) {
        fprintf(stderr, "netdx: MPI_Init failed\n");
        return EXIT_FAILED;
    }
    mpi_on = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &mpi_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &mpi_size);
    return 0;
}

int cli_mpi_end(int code)
{
    if (!mpi_on) return code;
    if (code != EXIT_OK && mpi_size > 1) {
        fprintf(stderr, "netdx: rank %d of %d failed (exit %d): stopping every rank\n", mpi_rank,
                mpi_size, code);
        MPI_Abort(MPI_COMM_WORLD, code);
    }
    if (comm_scatter != MPI_COMM_NULL) MPI_Comm_free(&comm_scatter);
    if (comm_gather != MPI_COMM_NULL) MPI_Comm_free(&comm_gather);
    MPI_Finalize();
    return code;
}

const char *cli_mpi_library(char *buf, size_t n)
{
    char v[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    MPI_Get_library_version(v, &len);
    v[strcspn(v, ",\n")] = 0;
    snprintf(buf, n, "%s%s", v, !mpi_on ? "" : one_node ? "; transports: one node's (pml ob1, "
             "btl self,vader)" : "; transports: as configured");
    return buf;
}

/* Large messages in pieces of at most 1 GiB (MPI counts are int). */
static int xfer(void *buf, size_t n, int peer, int send)
{
    for (size_t off = 0; off < n;) {
        const int c = (int)(n - off < ((size_t)1 << 30) ? n - off : ((size_t)1 << 30));
        const int rc = send ? MPI_Send((char *)buf + off, c, MPI_BYTE, peer, 7, MPI_COMM_WORLD)
                            : MPI_Recv((char *)buf + off, c, MPI_BYTE, peer, 7, MPI_COMM_WORLD,
                                       MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS) return -1;
        off += (size_t)c;
    }
    return 0;
}

/* One layer's state from rank `peer`, merged into st (not finished: a
 * threshold outside the merged windows would close them before the
 * states above merge; the root finishes the whole). */
static ndx_status recv_merge(ndx_dissect *st, int peer)
{
    uint64_t n = 0;
    if (xfer(&n, sizeof n, peer, 0) || n == UINT64_MAX)
        return ndx_fail_io("MPI: rank failed before sending its state");
    char *buf = malloc(n ? n : 1);
    ndx_dissect *other = NULL;
    ndx_status s = !buf || xfer(buf, n, peer, 0) ? ndx_fail_io("MPI: receiving a state")
                                                 : ndx_dissect_load_mem(buf, n, &other);
    free(buf);
    if (!s) s = ndx_dissect_merge(st, other);
    ndx_dissect_free(other);
    return s;
}

static ndx_status send_state(const ndx_dissect *st, int peer)
{
    void *buf = NULL;
    size_t n = 0;
    ndx_status s = st ? ndx_dissect_save_mem(st, &buf, &n) : NDX_ERR_IO;   /* NULL: a failure */
    uint64_t len = s ? UINT64_MAX : n;
    if (xfer(&len, sizeof len, peer, 1) || (!s && xfer(buf, n, peer, 1)))
        s = ndx_fail_io("MPI: sending a state");
    free(buf);
    return s;
}

static int reduce(void *ctx, ndx_dissect **st, int nl, int *root)
{
    (void)ctx;
    ndx_status s = NDX_OK;
    int sent = 0;
    /* a rank that failed still sends (a failure) so that its parent does
     * not wait for ever; the failure reaches the root and, through the
     * broadcast that follows, every rank */
    for (int k = 1; k < mpi_size && !sent; k <<= 1) {
        if (mpi_rank % (2 * k) == 0) {
            for (int l = 0; l < nl && !s && mpi_rank + k < mpi_size; l++)
                s = recv_merge(st[l], mpi_rank + k);
        } else {
            for (int l = 0; l < nl; l++) {
                const ndx_status t = send_state(s ? NULL : st[l], mpi_rank - k);
                if (!s) s = t;
            }
            sent = 1;
        }
    }
    *root = mpi_rank == 0;
    return s;
}

static int bcast(void *ctx, void *buf, size_t n)
{
    (void)ctx;
    for (size_t off = 0; off < n;) {
        const int c = (int)(n - off < ((size_t)1 << 30) ? n - off : ((size_t)1 << 30));
        if (MPI_Bcast((char *)buf + off, c, MPI_BYTE, 0, MPI_COMM_WORLD) != MPI_SUCCESS)
            return ndx_fail_io("MPI_Bcast");
        off += (size_t)c;
    }
    return NDX_OK;
}

int cli_mpi_dissect(ndx_dissect_run_opts *o)
{
    if (mpi_size <= 1) return 0;
    if (o->nshards > 1 || o->merge[0] || o->stats_only) {
        fprintf(stderr, "netdx dissect: under mpirun the ranks are the shards: no --shard, "
                "--merge or --stats-only\n");
        return EXIT_USAGE;
    }
    o->shard = mpi_rank, o->nshards = mpi_size;
    o->reduce = reduce, o->bcast = bcast;
    return 0;
}

/* Rank-ordered sums, the same bits on every rank and as one process
 * adding the parts in order: element i of a range of n floats lives in
 * the chunk of rank c = the one whose [n c / P, n (c+1) / P) holds it;
 * every rank sends chunk c to rank c (MPI_Ialltoallv), rank c adds the P
 * pieces in rank order, and the summed chunks go back to every rank in
 * place (MPI_Iallgatherv).  Each rank sends and receives 2 (P-1)/P x 4 n
 * bytes, as a ring allreduce does.  Without blocking: a range is a
 * bucket, stepped between layers of the backward pass. */
typedef struct bucket {
    float *f;           /* the range, f[0, n), summed in place */
    int *cnt;           /* 4 P: counts, displacements, received, their places */
    float *pieces;      /* P x this rank's chunk */
    MPI_Request req;
    int phase;          /* 1 scattering, 2 gathering, 0 done */
} bucket;

static int bucket_start(bucket *b, float *f, size_t n)
{
    const int P = mpi_size, me = mpi_rank;
    const size_t mine = n * (size_t)(me + 1) / P - n * (size_t)me / P;
    b->f = f, b->phase = 0, b->cnt = NULL, b->pieces = NULL;
    if (n > INT_MAX / 2) {
        fprintf(stderr, "netdx: rank %d: MPI: summing 2^30 gradients or more at once is not "
                "supported\n", mpi_rank);
        return -1;
    }
    b->cnt = malloc(4 * (size_t)P * sizeof *b->cnt);
    b->pieces = malloc(((size_t)P * mine + 1) * sizeof *b->pieces);
    if (!b->cnt || !b->pieces) return -1;
    int *dsp = b->cnt + P, *rcnt = b->cnt + 2 * P, *rdsp = b->cnt + 3 * P;
    for (int q = 0; q < P; q++) {
        dsp[q] = (int)(n * (size_t)q / P);
        b->cnt[q] = (int)(n * (size_t)(q + 1) / P) - dsp[q];
        rcnt[q] = (int)mine, rdsp[q] = q * (int)mine;
    }
    b->phase = MPI_Ialltoallv(f, b->cnt, dsp, MPI_FLOAT, b->pieces, rcnt, rdsp, MPI_FLOAT,
                              comm_scatter, &b->req) == MPI_SUCCESS;
    return b->phase ? 0 : -1;
}

/* One step of b when its pending part is done (or once it is, wait);
 * its gather starts only if `gather` (every rank must start the gathers,
 * like the scatters, in the same order: bucket by bucket); -1 on an MPI
 * error. */
static int bucket_step(bucket *b, int wait, int gather)
{
    int done = 0;
    if (b->phase == 1 && !gather) return 0;
    if (b->phase && (wait ? MPI_Wait(&b->req, MPI_STATUS_IGNORE)
                          : MPI_Test(&b->req, &done, MPI_STATUS_IGNORE)) != MPI_SUCCESS)
        return -1;
    if (!b->phase || !(done || wait)) return 0;
    const int P = mpi_size, *dsp = b->cnt + P;
    if (b->phase == 1) {
        const size_t mine = (size_t)b->cnt[2 * P];   /* received from each rank */
        float *s = b->f + dsp[mpi_rank];
        memcpy(s, b->pieces, mine * sizeof *s);
        for (int q = 1; q < P; q++)
            for (size_t i = 0; i < mine; i++) s[i] += b->pieces[(size_t)q * mine + i];
        b->phase = 2;
        return MPI_Iallgatherv(MPI_IN_PLACE, 0, MPI_FLOAT, b->f, b->cnt, dsp, MPI_FLOAT,
                               comm_gather, &b->req) != MPI_SUCCESS ? -1 : 0;
    }
    b->phase = 0;
    free(b->cnt), free(b->pieces);
    b->cnt = NULL, b->pieces = NULL;
    return 0;
}

static int bucket_finish(bucket *b)
{
    int rc = 0;
    while (b->phase && !rc) rc = bucket_step(b, 1, 1);
    free(b->cnt), free(b->pieces);
    b->cnt = NULL, b->pieces = NULL, b->phase = 0;
    return rc;
}

/* The overlap: during the backward pass each final range of at least
 * `size` floats at the end of the gradient block is a bucket; allreduce
 * then sums the rest (and waits for them all). */
static struct {
    bucket *b;
    int nb, cap, failed;
    long passes, buckets;   /* backward passes, buckets started during them */
    size_t size;        /* floats a bucket (NETDX_MPI_BUCKET_KB; 0: no overlap) */
    size_t G, done;     /* the block's floats; g[done, G) went into buckets */
} ov;

static void grads_ready(void *ctx, float *g, size_t from, size_t G)
{
    (void)ctx;
    if (!ov.size) return;
    if (!from) {   /* the pass is over: every bucket done (the caller reads g next) */
        for (int i = 0; i < ov.nb; i++) ov.failed |= bucket_finish(&ov.b[i]);
        ov.nb = 0, ov.passes++;
        return;
    }
    if (ov.failed) return;
    if (ov.G != G) ov.G = G, ov.done = G;
    if (ov.done - from >= ov.size) {
        if (ov.nb == ov.cap) {
            bucket *nb = realloc(ov.b, (size_t)(ov.cap * 2 + 8) * sizeof *nb);
            if (!nb) {
                ov.failed = 1;
                return;
            }
            ov.b = nb, ov.cap = ov.cap * 2 + 8;
        }
        ov.failed = bucket_start(&ov.b[ov.nb++], g + from, ov.done - from);
        ov.done = from, ov.buckets++;
    }
    for (int i = 0, gather = 1; i < ov.nb && !ov.failed; i++) {
        ov.failed = bucket_step(&ov.b[i], 0, gather);
        gather = gather && ov.b[i].phase != 1;   /* in bucket order */
    }
}

void cli_mpi_train_summary(void)
{
    if (mpi_size <= 1 || mpi_rank) return;
    printf("gradient sum over %d ranks: ", mpi_size);
    if (!ov.size)
        printf("after each backward pass (no overlap: NETDX_MPI_BUCKET_KB=0)\n");
    else if (!ov.passes)
        printf("no step taken\n");
    else
        printf("%.1f buckets of %zu KiB a step during the backward pass, the rest after it "
               "(NETDX_MPI_BUCKET_KB)\n", (double)ov.buckets / ov.passes,
               ov.size * sizeof(float) / 1024);
}

/* f (nf floats: the gradient block, then the batch-norm statistics) and
 * d summed over the ranks; the block's tail summed already by the
 * buckets of the pass is left as it is.  The nd doubles (loss, counts)
 * are gathered whole. */
static int allreduce(void *ctx, float *f, size_t nf, double *d, size_t nd)
{
    (void)ctx;
    const int P = mpi_size;
    const size_t G = ov.G && ov.G <= nf ? ov.G : nf, head = ov.G && ov.G <= nf ? ov.done : nf;
    ov.G = 0;
    for (int i = 0; i < ov.nb; i++) ov.failed |= bucket_finish(&ov.b[i]);
    ov.nb = 0;
    if (ov.failed || nd > INT_MAX / (size_t)P)
        return ndx_fail_io("MPI: summing the gradients");
    bucket b = {0};
    int rc = bucket_start(&b, f, head) || bucket_finish(&b);
    if (!rc && nf > G) rc = bucket_start(&b, f + G, nf - G) || bucket_finish(&b);
    free(b.cnt), free(b.pieces);
    double *all = malloc(((size_t)P * nd + 1) * sizeof *all);
    rc = rc || !all || MPI_Allgather(d, (int)nd, MPI_DOUBLE, all, (int)nd, MPI_DOUBLE,
                                     MPI_COMM_WORLD) != MPI_SUCCESS;
    for (size_t j = 0; j < nd && !rc; j++) {
        d[j] = all[j];
        for (int q = 1; q < P; q++) d[j] += all[(size_t)q * nd + j];
    }
    free(all);
    return rc ? ndx_fail_io("MPI: summing the gradients") : NDX_OK;
}

/* Every rank's counts[q] items of `size` bytes, rank q's after ranks
 * 0 .. q-1's, onto every rank (MPI_Allgatherv of a contiguous type). */
static int gather(void *ctx, void *buf, size_t size, const size_t *counts)
{
    (void)ctx;
    const int P = mpi_size;
    int *cnt = malloc(2 * (size_t)P * sizeof *cnt), *dsp = cnt ? cnt + P : NULL;
    size_t at = 0;
    int bad = !cnt || size > INT_MAX;
    for (int q = 0; q < P && !bad; q++) {
        bad = counts[q] > INT_MAX || at > INT_MAX;
        cnt[q] = (int)counts[q], dsp[q] = (int)at;
        at += counts[q];
    }
    MPI_Datatype item;
    int rc = bad || MPI_Type_contiguous((int)size, MPI_BYTE, &item) != MPI_SUCCESS;
    if (!rc) {
        rc = MPI_Type_commit(&item) != MPI_SUCCESS ||
             MPI_Allgatherv(MPI_IN_PLACE, 0, item, buf, cnt, dsp, item, MPI_COMM_WORLD) !=
                 MPI_SUCCESS;
        MPI_Type_free(&item);
    }
    free(cnt);
    return rc ? ndx_fail_io("MPI: gathering the ranks' shares") : NDX_OK;
}

int cli_mpi_train(ndx_train_opts *o)
{
    if (mpi_size <= 1) return 0;
    if (o->parts > 1 && o->parts != mpi_size) {
        fprintf(stderr, "netdx train: under mpirun each of the %d ranks is one part of the "
                "batch: --parts %d must be %d or left out\n", mpi_size, o->parts, mpi_size);
        return EXIT_USAGE;
    }
    o->parts = mpi_size, o->rank = mpi_rank;
    o->allreduce = allreduce, o->gather = gather;
    /* the bucket size: rank 0's, so that every rank cuts the same ranges */
    const char *kb = mpi_rank == 0 ? getenv("NETDX_MPI_BUCKET_KB") : NULL;
    char *end = NULL;
    long long v = kb ? strtoll(kb, &end, 10) : 8192;
    if (kb && (end == kb || *end || v < 0 || v > (1LL << 30))) {
        fprintf(stderr, "netdx train: NETDX_MPI_BUCKET_KB=%s: want kilobytes, 0 to 2^30 "
                "(0: no overlap)\n", kb);
        v = -1;
    }
    if (MPI_Bcast(&v, 1, MPI_LONG_LONG, 0, MPI_COMM_WORLD) != MPI_SUCCESS || v < 0)
        return EXIT_USAGE;
    if (MPI_Comm_dup(MPI_COMM_WORLD, &comm_scatter) != MPI_SUCCESS ||
        MPI_Comm_dup(MPI_COMM_WORLD, &comm_gather) != MPI_SUCCESS)
        return ndx_fail_io("MPI_Comm_dup"), EXIT_FAILED;
    ov.size = (size_t)v * 1024 / sizeof(float);
    o->grads_ready = v ? grads_ready : NULL;
    return 0;
}
#else
int cli_mpi_start(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    const int n = launched_size();
    if (n <= 1) return 0;
    fprintf(stderr, "netdx: started as one of %d MPI ranks, but this netdx is built without "
            "MPI: each rank would do the whole job into the same outputs.  Rebuild with MPI "
            "(apt-get install libopenmpi-dev openmpi-bin; make MPI=1) or run it alone.\n", n);
    return EXIT_FAILED;
}

int cli_mpi_end(int code) { return code; }

const char *cli_mpi_library(char *buf, size_t n)
{
    snprintf(buf, n, "none (built without MPI)");
    return buf;
}

int cli_mpi_dissect(ndx_dissect_run_opts *o)
{
    (void)o;
    return 0;
}

void cli_mpi_train_summary(void) {}

int cli_mpi_train(ndx_train_opts *o)
{
    (void)o;
    return 0;
}
#endif

int cli_mpi_rank(void) { return mpi_rank; }
int cli_mpi_size(void) { return mpi_size; }

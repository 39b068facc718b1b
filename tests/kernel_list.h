/* The kernel list drives the kernel tests, as XNNPACK's does.
 *
 * Every line NDX_KERNEL(isa, op, function, mr, nr) of kernels/kernels.inc
 * compiled for this target becomes one Check test: the function, taken from
 * its set's dispatch table (ndx_kernels_for(isa)), against its ref twin or
 * an independent yardstick.  Each op has one owner suite (the table below)
 * and a tester there.  When this CPU lacks a set, its lines print
 * "SKIPPED: ..." (tests/run.sh counts them) and add no test.  ref lines are
 * the oracle, checked against PyTorch's golden files by check_ref and
 * check_golden; a tester whose yardstick does not depend on ref (oracle = 1)
 * checks the ref line too.  Adding a kernel line without a test fails
 * test_kernel_list_covered.  A set declared NDX_INHERIT(set, parent) takes
 * the slots it has no line for from its parent: each such slot is tested
 * again from the set's own table (a line of the set naming the parent's
 * function, printed "(its parent's kernel)").  Before the tests run, each
 * suite prints which function fills each slot of every set it tests. */
#ifndef NDX_KERNEL_LIST_H
#define NDX_KERNEL_LIST_H

#include "kernels.h"
#include "testutil.h"

typedef struct tu_kernel_line {
    const char *isa, *op, *name;
    int mr, nr;
} tu_kernel_line;

static const tu_kernel_line tu_kernel_lines[] = {
#define NDX_KERNEL(isa, op, f, mr, nr) {#isa, #op, #f, mr, nr},
#define NDX_BLOCKING(isa, mc, kc, nc)
#define NDX_GEMM_HALF_EDGE(isa)
#define NDX_GEMM_ROW_STEP(isa, step)
#define NDX_INHERIT(isa, parent)
#include "kernels.inc"
#undef NDX_KERNEL
#undef NDX_BLOCKING
#undef NDX_GEMM_HALF_EDGE
#undef NDX_GEMM_ROW_STEP
#undef NDX_INHERIT
};
#define TU_NKERNEL_LINES (sizeof tu_kernel_lines / sizeof *tu_kernel_lines)

/* NDX_INHERIT(set, parent): the set starts from its parent's slots. */
static const struct { const char *isa, *parent; } tu_kernel_parents[] = {
#define NDX_KERNEL(isa, op, f, mr, nr)
#define NDX_BLOCKING(isa, mc, kc, nc)
#define NDX_GEMM_HALF_EDGE(isa)
#define NDX_GEMM_ROW_STEP(isa, step)
#define NDX_INHERIT(isa, parent) {#isa, #parent},
#include "kernels.inc"
#undef NDX_KERNEL
#undef NDX_BLOCKING
#undef NDX_GEMM_HALF_EDGE
#undef NDX_GEMM_ROW_STEP
#undef NDX_INHERIT
    {NULL, NULL}};

static const char *tu_kernel_parent(const char *isa)
{
    if (!strcmp(isa, "ref")) return NULL;
    for (size_t i = 0; tu_kernel_parents[i].isa; i++)
        if (!strcmp(tu_kernel_parents[i].isa, isa)) return tu_kernel_parents[i].parent;
    return "ref";
}

/* The suite that tests each op of kernels.inc. */
static const struct { const char *op, *suite; } tu_kernel_owners[] = {
    {"gemm_ukernel", "kernels"},   {"gemm_pack", "kernels"},
    {"im2col", "kernels"},         {"col2im", "kernels"},
    {"bilinear", "simd"},          {"bilinear_blend", "simd"},
    {"bilinear_iou", "simd"},      {"bilinear_select", "simd"},
    {"resize_aa", "simd"},         {"maxpool2d", "simd"},
    {"avgpool2d", "simd"},         {"relu", "simd"},
    {"bias_add", "simd"},          {"add", "simd"},
    {"global_avgpool", "simd"},    {"channel_max", "simd"},
    {"dot_rows", "simd"},          {"fma_probe", "kernels"},
};

/* Tests set t's slot of one op; k is the line, whose function t must hold. */
typedef void (*tu_kernel_tester)(const ndx_kernel_table *t, const tu_kernel_line *k);
typedef struct tu_kernel_test {
    const char *op;
    tu_kernel_tester fn;
    int oracle;   /* 1: the yardstick is not the ref kernel: test the ref line too */
} tu_kernel_test;

static const char *tu_kl_suite;
static const tu_kernel_test *tu_kl_tests;
static size_t tu_kl_ntests;

static const char *tu_kernel_owner(const char *op)
{
    for (size_t i = 0; i < sizeof tu_kernel_owners / sizeof *tu_kernel_owners; i++)
        if (!strcmp(tu_kernel_owners[i].op, op)) return tu_kernel_owners[i].suite;
    return NULL;
}

static const tu_kernel_test *tu_kernel_test_of(const char *op)
{
    for (size_t i = 0; i < tu_kl_ntests; i++)
        if (!strcmp(tu_kl_tests[i].op, op)) return &tu_kl_tests[i];
    return NULL;
}

/* The line that fills slot op of set isa: its own, else its parent's. */
static const tu_kernel_line *tu_kernel_line_in_set(const char *isa, const char *op)
{
    for (size_t i = 0; i < TU_NKERNEL_LINES; i++) {
        const tu_kernel_line *k = &tu_kernel_lines[i];
        if (!strcmp(k->op, op) && !strcmp(k->isa, isa)) return k;
    }
    const char *parent = tu_kernel_parent(isa);
    return parent ? tu_kernel_line_in_set(parent, op) : NULL;
}

static const char *tu_kernel_in_set(const char *isa, const char *op)
{
    const tu_kernel_line *k = tu_kernel_line_in_set(isa, op);
    return k ? k->name : NULL;
}

/* The lines tested: kernels.inc's, then one per slot a set takes from a
 * parent other than ref (isa: the set, name: the parent's function), so
 * that every slot of that set is run from its own table. */
#define TU_KL_MAX (3 * TU_NKERNEL_LINES)
static tu_kernel_line tu_kl_all[TU_KL_MAX];
static size_t tu_kl_nall;

static int tu_kernel_isa_listed(const char *isa, size_t upto)
{
    for (size_t j = 0; j < upto; j++)
        if (!strcmp(tu_kernel_lines[j].isa, isa)) return 1;
    return 0;
}

static void tu_kernel_lines_build(void)
{
    tu_kl_nall = 0;
    for (size_t i = 0; i < TU_NKERNEL_LINES; i++) tu_kl_all[tu_kl_nall++] = tu_kernel_lines[i];
    for (size_t s = 0; tu_kernel_parents[s].isa; s++) {
        const char *isa = tu_kernel_parents[s].isa;
        for (size_t i = 0; i < TU_NKERNEL_LINES; i++) {
            const tu_kernel_line *r = &tu_kernel_lines[i];
            if (strcmp(r->isa, "ref")) continue;
            const tu_kernel_line *k = tu_kernel_line_in_set(isa, r->op);
            if (!k || !strcmp(k->isa, isa) || !strcmp(k->isa, "ref") || tu_kl_nall >= TU_KL_MAX)
                continue;
            tu_kl_all[tu_kl_nall] = *k;
            tu_kl_all[tu_kl_nall++].isa = isa;
        }
    }
}

/* The slot's function is the line's: dispatch honours the list. */
static inline void tu_kernel_is(const char *slot_name, const tu_kernel_line *k)
{
    ck_assert_msg(slot_name && !strcmp(slot_name, k->name),
                  "the %s set's %s slot holds %s, kernels.inc says %s", k->isa, k->op,
                  slot_name ? slot_name : "nothing", k->name);
}

START_TEST(test_kernel_line)
{
    const tu_kernel_line *k = &tu_kl_all[_i];
    const ndx_kernel_table *t = ndx_kernels_for(k->isa);
    ck_assert_msg(t, "%s set not available, yet its test was added", k->isa);
    const tu_kernel_test *kt = tu_kernel_test_of(k->op);
    ck_assert_ptr_nonnull(kt);
    kt->fn(t, k);
}
END_TEST

/* Every op in kernels.inc has an owner suite; every SIMD line of this
 * suite's ops has a tester. */
START_TEST(test_kernel_list_covered)
{
    ck_assert_uint_gt(TU_NKERNEL_LINES, 0);
    for (size_t i = 0; i < TU_NKERNEL_LINES; i++) {
        const tu_kernel_line *k = &tu_kernel_lines[i];
        const char *owner = tu_kernel_owner(k->op);
        ck_assert_msg(owner, "kernels.inc: op %s (%s) has no owner suite in "
                      "tests/kernel_list.h", k->op, k->name);
        if (!strcmp(owner, tu_kl_suite) && strcmp(k->isa, "ref"))
            ck_assert_msg(tu_kernel_test_of(k->op), "kernels.inc: %s (%s %s): suite %s "
                          "has no tester of %s", k->name, k->isa, k->op, owner, k->op);
    }
}
END_TEST

/* Adds test_kernel_list_covered and one test per line of this suite's ops
 * whose set runs here; prints what fills every slot of this suite's ops in
 * each set the list names, and a SKIPPED line per line that cannot run. */
static void tu_kernel_list_add(TCase *tc, const char *suite, const tu_kernel_test *tests,
                               size_t ntests)
{
    tu_kl_suite = suite;
    tu_kl_tests = tests;
    tu_kl_ntests = ntests;
    tcase_add_test(tc, test_kernel_list_covered);
    tu_kernel_lines_build();
    for (size_t i = 0; i < tu_kl_nall; i++) {
        const tu_kernel_line *k = &tu_kl_all[i];
        const char *owner = tu_kernel_owner(k->op);
        if (!owner || strcmp(owner, suite)) continue;
        const tu_kernel_test *kt = tu_kernel_test_of(k->op);
        const int ref = !strcmp(k->isa, "ref");
        const char *from = i < TU_NKERNEL_LINES ? "" : " (its parent's kernel)";
        if (ref && !(kt && kt->oracle)) {
            printf("kernel %-6s %-15s %s: the oracle\n", k->isa, k->op, k->name);
        } else if (!ndx_kernels_for(k->isa)) {
            printf("SKIPPED: kernel %s %s %s%s: this CPU lacks the %s set\n", k->isa, k->op,
                   k->name, from, k->isa);
        } else {
            printf("kernel %-6s %-15s %s%s: tested against %s\n", k->isa, k->op, k->name, from,
                   kt && kt->oracle ? "a yardstick of its own" : tu_kernel_in_set("ref", k->op));
            tcase_add_loop_test(tc, test_kernel_line, (int)i, (int)i + 1);
        }
    }
    /* slots a set takes from ref */
    for (size_t i = 0; i < TU_NKERNEL_LINES; i++) {
        const tu_kernel_line *k = &tu_kernel_lines[i];
        if (tu_kernel_isa_listed(k->isa, i) || !strcmp(k->isa, "ref")) continue;
        for (size_t j = 0; j < TU_NKERNEL_LINES; j++) {
            const tu_kernel_line *r = &tu_kernel_lines[j];
            const char *owner = tu_kernel_owner(r->op);
            if (strcmp(r->isa, "ref") || !owner || strcmp(owner, suite)) continue;
            if (tu_kernel_in_set(k->isa, r->op) == r->name)
                printf("kernel %-6s %-15s %s: ref's (no %s kernel)\n", k->isa, r->op, r->name,
                       k->isa);
        }
    }
    fflush(stdout);
}

#endif

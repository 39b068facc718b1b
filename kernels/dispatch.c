/* Kernel dispatch: one table per ISA, built from kernels.inc, and the choice
 * of one of them at start-up.
 *
 * x86-64: avx512 when CPUID reports AVX512F, BW, DQ and VL (leaf 7 EBX bits
 * 16, 17, 30, 31) and XGETBV shows that the OS saves XMM, YMM, opmask and
 * both halves of the ZMM state (XCR0 bits 1, 2, 5, 6, 7); else avx2 when
 * CPUID reports AVX, AVX2 and FMA and the OS saves XMM and YMM state
 * (OSXSAVE set, XCR0 bits 1 and 2).
 * aarch64: neon (Advanced SIMD is part of the base architecture).
 * Otherwise ref.  The caller (ndx_init) applies NETDX_KERNELS.
 *
 * A set starts from its parent's table (NDX_INHERIT in kernels.inc; ref
 * when none) and its own lines override: a slot avx512 does not fill keeps
 * avx2's kernel.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "kernels.h"

#if defined(__x86_64__)
#include <cpuid.h>
#endif

/* Ordered by preference: ndx_kernels_best() takes the last one runnable. */
enum { NDX_ISA_REF, NDX_ISA_AVX2, NDX_ISA_AVX512, NDX_ISA_NEON, NDX_ISA_COUNT };
static const char *const isa_names[NDX_ISA_COUNT] = {"ref", "avx2", "avx512", "neon"};

/* The set a set starts from: its NDX_INHERIT line, else ref (ref: none). */
static const char *parent_of(const char *isa)
{
    if (!strcmp(isa, "ref")) return NULL;
#define NDX_KERNEL(isa_, op, f, mr_, nr_)
#define NDX_BLOCKING(isa_, mc, kc, nc)
#define NDX_GEMM_HALF_EDGE(isa_)
#define NDX_GEMM_ROW_STEP(isa_, step)
#define NDX_INHERIT(isa_, parent) \
    if (!strcmp(#isa_, isa)) return #parent;
#include "kernels.inc"
#undef NDX_KERNEL
#undef NDX_BLOCKING
#undef NDX_GEMM_HALF_EDGE
#undef NDX_GEMM_ROW_STEP
#undef NDX_INHERIT
    return "ref";
}

/* The set's own lines; a microkernel line clears the half-edge flag its
 * parent's microkernel may have had. */
static void fill(ndx_kernel_table *t, const char *isa)
{
    const char *parent = parent_of(isa);
    if (parent) fill(t, parent);
    t->isa = isa;
#define NDX_KERNEL(isa_, op, f, mr_, nr_)                           \
    if (!strcmp(#isa_, isa)) {                                      \
        t->op.fn = f; t->op.name = #f; t->op.mr = mr_; t->op.nr = nr_; \
        if (!strcmp(#op, "gemm_ukernel")) t->gemm_half_edge = 0, t->gemm_row_step = 0; \
    }
#define NDX_BLOCKING(isa_, mc, kc, nc)                              \
    if (!strcmp(#isa_, isa)) {                                      \
        t->gemm_mc = mc; t->gemm_kc = kc; t->gemm_nc = nc;          \
    }
#define NDX_GEMM_HALF_EDGE(isa_)                                    \
    if (!strcmp(#isa_, isa)) t->gemm_half_edge = 1;
#define NDX_GEMM_ROW_STEP(isa_, step)                               \
    if (!strcmp(#isa_, isa)) t->gemm_row_step = step;
#define NDX_INHERIT(isa_, parent)
#include "kernels.inc"
#undef NDX_KERNEL
#undef NDX_BLOCKING
#undef NDX_GEMM_HALF_EDGE
#undef NDX_GEMM_ROW_STEP
#undef NDX_INHERIT
}

#if defined(__x86_64__)
typedef struct {
    int avx, avx2, fma, ymm_os;
    int avx512f, avx512bw, avx512dq, avx512vl, zmm_os;
} cpu_x86;

static cpu_x86 probe_x86(void)
{
    cpu_x86 f = {0};
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
    f.fma = (c >> 12) & 1;
    f.avx = (c >> 28) & 1;
    int osxsave = (c >> 27) & 1;
    if (osxsave) {
        unsigned lo, hi;
        __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        f.ymm_os = (lo & 0x6) == 0x6;      /* XMM, YMM */
        f.zmm_os = (lo & 0xe6) == 0xe6;    /* and opmask, ZMM_Hi256, Hi16_ZMM */
    }
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
        f.avx2 = (b >> 5) & 1;
        f.avx512f = (b >> 16) & 1;
        f.avx512dq = (b >> 17) & 1;
        f.avx512bw = (b >> 30) & 1;
        f.avx512vl = (b >> 31) & 1;
    }
    return f;
}
#endif

/* 1 when this build and CPU run the set; else 0 and why in why[]. */
static int isa_check(int isa, char *why, size_t n)
{
    snprintf(why, n, "not built for this target");
    switch (isa) {
    case NDX_ISA_REF: return snprintf(why, n, "plain C"), 1;
#if defined(__x86_64__)
    case NDX_ISA_AVX2: {
        cpu_x86 f = probe_x86();
        if (f.avx && f.avx2 && f.fma && f.ymm_os)
            return snprintf(why, n, "CPUID has AVX2+FMA, the OS saves YMM state"), 1;
        snprintf(why, n, "needs CPUID AVX, AVX2, FMA and OS-saved YMM state; lacks%s%s%s%s",
                 f.avx ? "" : " AVX", f.avx2 ? "" : " AVX2", f.fma ? "" : " FMA",
                 f.ymm_os ? "" : " OS-YMM");
        return 0;
    }
    case NDX_ISA_AVX512: {
        cpu_x86 f = probe_x86();
        if (f.avx512f && f.avx512bw && f.avx512dq && f.avx512vl && f.zmm_os && f.avx2 &&
            f.fma && f.ymm_os)
            return snprintf(why, n, "CPUID has AVX512F+BW+DQ+VL, XCR0 shows the OS saves "
                            "opmask and ZMM state"), 1;
        snprintf(why, n, "needs CPUID AVX512F, BW, DQ, VL (and AVX2+FMA) and OS-saved "
                 "opmask/ZMM state (XCR0 bits 1,2,5,6,7); lacks%s%s%s%s%s%s",
                 f.avx512f ? "" : " AVX512F", f.avx512bw ? "" : " AVX512BW",
                 f.avx512dq ? "" : " AVX512DQ", f.avx512vl ? "" : " AVX512VL",
                 f.zmm_os ? "" : " OS-ZMM", f.avx2 && f.fma && f.ymm_os ? "" : " AVX2");
        return 0;
    }
#endif
#if defined(__aarch64__)
    case NDX_ISA_NEON: return snprintf(why, n, "aarch64: Advanced SIMD is baseline"), 1;
#endif
    default: return 0;
    }
}

static int isa_available(int isa)
{
    char why[256];
    return isa_check(isa, why, sizeof why);
}

const char *ndx_kernels_why(const char *isa, char *buf, size_t n)
{
    for (int i = 0; i < NDX_ISA_COUNT; i++)
        if (!strcmp(isa, isa_names[i])) {
            isa_check(i, buf, n);
            return buf;
        }
    snprintf(buf, n, "unknown kernel set (sets: ref, avx2, avx512, neon)");
    return buf;
}

const char *ndx_kernels_inherited(const char *isa, char *buf, size_t n)
{
    int known = 0;
    for (int i = 0; i < NDX_ISA_COUNT; i++) known |= !strcmp(isa, isa_names[i]);
    if (n) buf[0] = 0;
    const char *parent = known ? parent_of(isa) : NULL;
    if (!parent) return NULL;
    ndx_kernel_table own = {0}, par = {0}, ref = {0};
    const ndx_kernel_table *t = &own, *p = &par, *r = &ref;
    fill(&own, isa);
    fill(&par, parent);
    fill(&ref, "ref");
    size_t used = 0;
#define NDX_KERNEL(isa_, op, f, mr_, nr_)                                         \
    if (!strcmp(#isa_, "ref") && t->op.fn == p->op.fn && p->op.fn != r->op.fn &&  \
        used < n)                                                                 \
        used += (size_t)snprintf(buf + used, n - used, "%s" #op, used ? " " : "");
#define NDX_BLOCKING(isa_, mc, kc, nc)
#define NDX_GEMM_HALF_EDGE(isa_)
#define NDX_GEMM_ROW_STEP(isa_, step)
#define NDX_INHERIT(isa_, parent_)
#include "kernels.inc"
#undef NDX_KERNEL
#undef NDX_BLOCKING
#undef NDX_GEMM_HALF_EDGE
#undef NDX_GEMM_ROW_STEP
#undef NDX_INHERIT
    return parent;
}

const char *ndx_kernels_name_at(int i)
{
    return i >= 0 && i < NDX_ISA_COUNT ? isa_names[i] : NULL;
}

static ndx_kernel_table sets[NDX_ISA_COUNT];
static atomic_int sets_ready;         /* 0 no, 1 being built, 2 ready */
static _Atomic(const ndx_kernel_table *) current;

static void build_sets(void)
{
    int expected = 0;
    if (atomic_compare_exchange_strong(&sets_ready, &expected, 1)) {
        for (int i = 0; i < NDX_ISA_COUNT; i++) fill(&sets[i], isa_names[i]);
        atomic_store(&sets_ready, 2);
    }
    while (atomic_load(&sets_ready) != 2) {
    }
}

const ndx_kernel_table *ndx_kernels_for(const char *isa)
{
    build_sets();
    for (int i = 0; i < NDX_ISA_COUNT; i++)
        if (!strcmp(isa, isa_names[i])) return isa_available(i) ? &sets[i] : NULL;
    return NULL;
}

/* The best set this CPU runs. */
const char *ndx_kernels_best(void)
{
    for (int i = NDX_ISA_COUNT - 1; i > 0; i--)
        if (isa_available(i)) return isa_names[i];
    return "ref";
}

int ndx_kernels_select(const char *isa)
{
    const ndx_kernel_table *s = ndx_kernels_for(isa);
    if (!s) return -1;
    atomic_store(&current, s);
    return 0;
}

const ndx_kernel_table *ndx_kernels(void)
{
    const ndx_kernel_table *s = atomic_load(&current);
    if (!s) {
        s = ndx_kernels_for(ndx_kernels_best());
        const ndx_kernel_table *none = NULL;
        if (!atomic_compare_exchange_strong(&current, &none, s)) s = none;
    }
    return s;
}

void ndx_cpu_features(char *buf, size_t n)
{
#if defined(__x86_64__)
    cpu_x86 f = probe_x86();
    snprintf(buf, n, "x86-64%s%s%s%s%s%s%s%s%s", f.avx ? " avx" : "", f.avx2 ? " avx2" : "",
             f.fma ? " fma" : "", f.ymm_os ? " os-ymm" : "", f.avx512f ? " avx512f" : "",
             f.avx512bw ? " avx512bw" : "", f.avx512dq ? " avx512dq" : "",
             f.avx512vl ? " avx512vl" : "", f.zmm_os ? " os-zmm" : "");
#elif defined(__aarch64__)
    snprintf(buf, n, "aarch64 neon");
#else
    snprintf(buf, n, "generic");
#endif
}

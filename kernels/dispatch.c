/* Kernel dispatch: one table per ISA, built from kernels.inc, and the choice
 * of one of them at start-up.
 *
 * x86-64: avx2 when CPUID reports AVX, AVX2 and FMA, and XGETBV shows that
 * the OS saves XMM and YMM state (OSXSAVE set, XCR0 bits 1 and 2).
 * aarch64: neon (Advanced SIMD is part of the base architecture).
 * Otherwise ref.  The caller (ndx_init) applies NETDX_KERNELS.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "kernels.h"

#if defined(__x86_64__)
#include <cpuid.h>
#endif

enum { NDX_ISA_REF, NDX_ISA_AVX2, NDX_ISA_NEON, NDX_ISA_COUNT };
static const char *const isa_names[NDX_ISA_COUNT] = {"ref", "avx2", "neon"};

static void fill(ndx_kernel_table *t, const char *isa)
{
    t->isa = isa;
#define NDX_KERNEL(isa_, op, f, mr_, nr_)                           \
    if (!strcmp(#isa_, "ref") || !strcmp(#isa_, isa)) {             \
        t->op.fn = f; t->op.name = #f; t->op.mr = mr_; t->op.nr = nr_; \
    }
#define NDX_BLOCKING(isa_, mc, kc, nc)                              \
    if (!strcmp(#isa_, "ref") || !strcmp(#isa_, isa)) {             \
        t->gemm_mc = mc; t->gemm_kc = kc; t->gemm_nc = nc;          \
    }
#define NDX_GEMM_HALF_EDGE(isa_)                                    \
    if (!strcmp(#isa_, isa)) t->gemm_half_edge = 1;
#include "kernels.inc"
#undef NDX_KERNEL
#undef NDX_BLOCKING
#undef NDX_GEMM_HALF_EDGE
}

#if defined(__x86_64__)
typedef struct { int avx, avx2, fma, ymm_os, avx512f, zmm_os; } cpu_x86;

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
        f.ymm_os = (lo & 0x6) == 0x6;
        f.zmm_os = (lo & 0xe6) == 0xe6;
    }
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
        f.avx2 = (b >> 5) & 1;
        f.avx512f = (b >> 16) & 1;
    }
    return f;
}
#endif

static int isa_available(int isa)
{
    switch (isa) {
    case NDX_ISA_REF: return 1;
#if defined(__x86_64__)
    case NDX_ISA_AVX2: {
        cpu_x86 f = probe_x86();
        return f.avx && f.avx2 && f.fma && f.ymm_os;
    }
#endif
#if defined(__aarch64__)
    case NDX_ISA_NEON: return 1;
#endif
    default: return 0;
    }
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
    snprintf(buf, n, "x86-64%s%s%s%s%s%s", f.avx ? " avx" : "", f.avx2 ? " avx2" : "",
             f.fma ? " fma" : "", f.ymm_os ? " os-ymm" : "",
             f.avx512f ? " avx512f" : "", f.zmm_os ? " os-zmm" : "");
#elif defined(__aarch64__)
    snprintf(buf, n, "aarch64 neon");
#else
    snprintf(buf, n, "generic");
#endif
}

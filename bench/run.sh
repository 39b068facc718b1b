#!/bin/sh
# make bench: runs every benchmark of bench/ and writes bench/RESULTS.md
# (also printed).  Usage: bench/run.sh BUILD_DIR
# Speed is measured here and only here, never in tests.  Each comparison
# (netdx beside OpenBLAS or PyTorch) is made in the same run; figures are
# medians of several runs.  PyTorch runs under GLIBC_TUNABLES that keep
# freed memory (no page-fault storms) with explicit torch.set_num_threads.
set -u
B=${1:-build}/bench
PY=/usr/bin/python3
TUNE=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736
out=bench/RESULTS.md
tmp=$(mktemp bench/.RESULTS.XXXXXX)
trap 'rm -f "$tmp" "$tmp".*' EXIT

{
echo "# netdx benchmarks"
echo
echo "Written by \`make bench\` on $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) cores;"
echo "CPU: $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1);"
echo "netdx kernels: $(${1:-build}/netdx info | sed -n 's/^kernels: //p')."
echo "Timings are medians of several runs on a machine that may be shared: compare"
echo "the ratios within one table, which were measured in the same run."
echo
echo "## Machine"
echo
echo "| measure | 1 thread | 2 threads |"
echo "| --- | --- | --- |"
$B/bench_gemm machine --machine
echo
echo "## sgemm (row-major, no transposes), GFLOP/s"
echo
# netdx's avx2 set beside OpenBLAS Haswell, its avx512 set (where the CPU
# runs it) beside OpenBLAS SkylakeX.
have512=$(${1:-build}/netdx info | grep -c '^set avx512 runs')
for ct in Haswell SkylakeX; do
    case $ct in
    Haswell) what="OpenBLAS's Haswell kernel (AVX2)" set=avx2 ;;
    SkylakeX) what="OpenBLAS's SkylakeX kernel (AVX-512)" set=avx512 ;;
    esac
    if [ "$set" = avx512 ] && [ "$have512" = 0 ]; then
        echo "(no AVX-512 set on this CPU: netdx's avx2 beside OpenBLAS's $ct)"
        echo
        set=avx2
    fi
    echo "### netdx $set beside $what"
    echo
    echo "| shape | M×N×K | threads | netdx | share of $set FMA peak | OpenBLAS | netdx / OpenBLAS |"
    echo "| --- | --- | --- | --- | --- | --- | --- |"
    NETDX_KERNELS=$set OPENBLAS_CORETYPE=$ct $B/bench_gemm $ct 2>>"$tmp.log"
    echo
done
echo "Left unset, OPENBLAS_CORETYPE makes this OpenBLAS ($(dpkg-query -W -f='${Version}' libopenblas0-pthread 2>/dev/null || echo '?')) choose: $(env -u OPENBLAS_CORETYPE $B/bench_gemm unset --corename 2>/dev/null)."
echo
echo "## conv2d forward (3×3, pad 1, bias + ReLU), ms"
echo
# netdx and PyTorch take turns, ROUNDS times: the host of this VM takes
# cores away for seconds at a time, and a slow spell then falls on all sides
# (times: medians over the rounds; speed-ups: medians of the rounds' ratios).
ROUNDS=5
for r in $(seq $ROUNDS); do
    $B/bench_conv > "$tmp.conv.$r"
    GLIBC_TUNABLES=$TUNE ONEDNN_MAX_CPU_ISA=AVX2 $PY bench/torch_conv.py > "$tmp.tavx2.$r"
    GLIBC_TUNABLES=$TUNE $PY bench/torch_conv.py > "$tmp.tfull.$r"
done
echo "netdx ms is the default choice (path); im2col and Winograd forced, interleaved run by run;"
echo "max err: |Winograd - im2col| / sum |w||x|. $ROUNDS rounds of netdx, PyTorch AVX2 and PyTorch"
echo "uncapped in turn: times are medians over the rounds, speed-ups medians of the rounds' ratios."
echo
echo "| layer | batch | threads | netdx ms | netdx GFLOP/s | path | im2col ms | Winograd ms | Winograd / im2col | max err | PyTorch AVX2 ms | netdx speed-up vs PyTorch AVX2 | PyTorch uncapped ms | vs uncapped |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
$PY bench/conv_table.py $ROUNDS "$tmp"
echo
for extra in bilinear synth infer dissect survey report; do
    if [ -x "$B/bench_$extra" ]; then
        echo "## $extra"
        echo
        $B/bench_$extra
        if [ -f "bench/torch_$extra.py" ]; then
            echo
            GLIBC_TUNABLES=$TUNE $PY "bench/torch_$extra.py"
        fi
        echo
    fi
done
if command -v mpirun >/dev/null && ${1:-build}/netdx info | grep -q '^mpi: Open MPI'; then
    echo "## mpi (dissection and training across processes)"
    echo
    $PY bench/bench_mpi.py "${1:-build}"
    echo
fi
} > "$tmp"
status=$?
cat "$tmp.log" >&2 2>/dev/null
chmod 644 "$tmp"
mv "$tmp" "$out"
cat "$out"
exit $status

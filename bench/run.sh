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
# Networks: netdx, PyTorch (capped at AVX2 and at its default ISA) and ONNX
# Runtime take turns network by network (a slow spell of the shared host
# then falls on all three alike); bench/infer_table.py joins their rows.
# ONNX Runtime is npm's onnxruntime-node (its CPU library, MLAS, ships in the
# package; --ignore-scripts skips its GPU downloads), driven from node on
# networks bench/ort_export.py exports from torchvision, all in a cache
# outside the repository (NETDX_BENCH_CACHE).
CACHE=${NETDX_BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/netdx-bench}
ORT_VERSION=1.31.1
ort_ok=1
if [ ! -f "$CACHE/ort/node_modules/onnxruntime-node/package.json" ] ||
   ! grep -q "\"version\": \"$ORT_VERSION\"" "$CACHE/ort/node_modules/onnxruntime-node/package.json"; then
    mkdir -p "$CACHE/ort" &&
        npm install --prefix "$CACHE/ort" --ignore-scripts --no-audit --no-fund \
            --loglevel=error "onnxruntime-node@$ORT_VERSION" >>"$tmp.log" 2>&1 || ort_ok=0
fi
[ $ort_ok = 1 ] && { $PY bench/ort_export.py "$CACHE/onnx" 2>>"$tmp.log" || ort_ok=0; }
[ $ort_ok = 1 ] || echo "bench: ONNX Runtime left out (npm install or the ONNX export failed)" >>"$tmp.log"
echo "## infer"
echo
echo "Load average before: $(cut -d' ' -f1-3 /proc/loadavg)."
for arch in alexnet vgg16 resnet152 inception_v3; do
    $B/bench_infer 5 $arch >> "$tmp.netdx"
    GLIBC_TUNABLES=$TUNE $PY bench/torch_infer.py 5 $arch >> "$tmp.torch"
    [ $ort_ok = 1 ] && node bench/ort_infer.js "$CACHE/ort" "$CACHE/onnx" 5 $arch \
        >> "$tmp.ort" 2>>"$tmp.log"
done
$B/bench_infer 5 train >> "$tmp.netdx"
GLIBC_TUNABLES=$TUNE $PY bench/torch_infer.py 5 train >> "$tmp.torch"
echo "Load average after: $(cut -d' ' -f1-3 /proc/loadavg)."
echo
$PY bench/infer_table.py "$tmp.netdx" "$tmp.torch" "$tmp.ort"
echo
echo "## netdx bench"
echo
echo "The self-contained benchmark a user runs (\`netdx bench\`, docs/benchmarks.md), default set:"
echo
${1:-build}/netdx bench 2>>"$tmp.log"
echo
for extra in bilinear synth dissect survey report; do
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

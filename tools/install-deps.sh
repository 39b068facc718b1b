#!/bin/sh
# Installs the Debian packages netdx needs, non-interactively and only those
# that are missing (as root, else through sudo).
#   tools/install-deps.sh [build|mpi|neon|bench|golden|fuzz|browser|all]...   (default: build)
#  build : compile the library, the CLI and the Check suites, run the demo
#          (DCMTK: the DICOM reader, and its tools for the DICOM tests)
#  mpi   : Open MPI for `netdx` under mpirun and its tests (docs/mpi.md)
#  neon  : cross-build the kernel suites for aarch64 and run them under qemu
#  bench : OpenBLAS and PyTorch to compare against in `make bench`
#  golden: PyTorch to regenerate tests/data with tools/gen_golden.py, and
#          statsmodels + scikit-learn for tools/gen_report_golden.py
#  fuzz  : clang and its libFuzzer runtime for `make fuzz` / `make fuzz-regress`
#          (on Debian 12 -fsanitize=fuzzer links libclang_rt.fuzzer from
#          libclang-rt-14-dev, only recommended by clang; libfuzzer-14-dev,
#          the standalone libFuzzer.a, is not needed)
#  browser: Node.js, npm and chromium for `make check-browser` (npm is left
#          out where a nodejs that bundles it is installed already)
set -eu

build="gcc make pkg-config binutils python3 libxxhash-dev check libsubunit-dev libpng-dev libstb-dev libcjson-dev libmicrohttpd-dev libsqlite3-dev g++ libdcmtk-dev dcmtk"
mpi="libopenmpi-dev openmpi-bin"
neon="gcc-aarch64-linux-gnu qemu-user-static libc6-dev:arm64 check:arm64 libsubunit-dev:arm64 libxxhash-dev:arm64"
bench="libopenblas-dev python3-torch python3-torchvision python3-numpy"
golden="python3-torch python3-torchvision python3-numpy python3-statsmodels python3-sklearn"
fuzz="clang libclang-rt-14-dev"
browser="nodejs chromium"
command -v npm >/dev/null 2>&1 || browser="$browser npm"

want=""
[ $# -eq 0 ] && set -- build
for group in "$@"; do
    case $group in
    build) want="$want $build" ;;
    mpi) want="$want $build $mpi" ;;
    neon) want="$want $build $neon" ;;
    bench) want="$want $build $bench" ;;
    golden) want="$want $golden" ;;
    fuzz) want="$want $build $fuzz" ;;
    browser) want="$want $browser" ;;
    all) want="$want $build $mpi $neon $bench $golden $fuzz $browser" ;;
    *) echo "install-deps: unknown group '$group' (build, mpi, neon, bench, golden, fuzz, browser, all)" >&2; exit 2 ;;
    esac
done

native=$(dpkg --print-architecture)
missing=""
for p in $want; do
    case " $missing " in *" $p "*) continue ;; esac
    case $p in
    *:*) name=${p%%:*} arch=${p#*:} ;;
    *) name=$p arch=$native ;;
    esac
    dpkg-query -W -f='${db:Status-Status} ${Architecture}\n' "$name" 2>/dev/null |
        grep -Eqx "installed ($arch|all)" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
echo "install-deps: installing$missing" >&2
case "$missing" in
*:arm64*)
    if ! dpkg --print-foreign-architectures | grep -qx arm64; then
        $sudo dpkg --add-architecture arm64
    fi ;;
esac
$sudo apt-get update -q >&2
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends $missing >&2

#!/bin/sh
# Debian packages of netdx (debian/, docs/arm.md), for `make deb` and
# `make deb-test`.
#   tools/deb.sh build ARCH OUT   dpkg-buildpackage on a copy of the tree in
#                                 OUT/src (-a ARCH when ARCH is not this
#                                 machine's), the .debs into OUT, lintian
#   tools/deb.sh test ARCH OUT    the three .debs of OUT: apt resolves their
#                                 dependencies (simulated install), they are
#                                 unpacked into a scratch root OUT/root, and
#                                 from there netdx info and --help run and a
#                                 program builds with pkg-config against
#                                 libnetdx-dev (shared and static) and runs;
#                                 arm64 through $QEMU (default
#                                 qemu-aarch64-static -L /)
# Prints "deb-test: N passed, M failed" and fails when M > 0.
set -eu
[ $# -eq 3 ] || { echo "usage: tools/deb.sh build|test ARCH OUT" >&2; exit 2; }
mode=$1 arch=$2 out=$3
native=$(dpkg --print-architecture)
triplet=$(dpkg-architecture -qDEB_HOST_MULTIARCH -a"$arch" 2>/dev/null)
top=$(cd "$(dirname "$0")/.." && pwd)
case $out in /*) ;; *) out=$top/$out ;; esac

build() {
    version=$(sed -n 's/^#define NDX_VERSION "\(.*\)"/\1/p' "$top/include/netdx.h")
    head -n 1 "$top/debian/changelog" | grep -q "^netdx ($version)" || {
        echo "deb: debian/changelog's first entry is not version $version (include/netdx.h)" >&2
        exit 1
    }
    rm -rf "$out"
    src=$out/src/netdx-$version
    mkdir -p "$src"
    # The tracked files and new ones not ignored: never build/ or a demo.
    (cd "$top" && git ls-files -z -co --exclude-standard | tar --null -T - -cf - 2>/dev/null) |
        tar -xf - -C "$src"
    cross=""
    [ "$arch" = "$native" ] || cross="-a$arch"
    (cd "$src" && DEB_BUILD_OPTIONS="parallel=${JOBS:-2} ${DEB_BUILD_OPTIONS:-}" \
        dpkg-buildpackage -us -uc -b $cross) > "$out/build.log" 2>&1 || {
        tail -n 40 "$out/build.log" >&2
        echo "deb: dpkg-buildpackage failed; the whole log is $out/build.log" >&2
        exit 1
    }
    mv "$out"/src/*.deb "$out"/src/*.changes "$out"/src/*.buildinfo "$out"/
    for f in "$out"/src/*.ddeb; do [ -e "$f" ] && mv "$f" "$out"/; done
    ls -l "$out"/*.deb
    # Errors fail the build; warnings are printed (docs/arm.md says why
    # each one that remains is there).
    lintian --fail-on error --tag-display-limit 0 "$out"/*.changes
}

pass=0 fail=0
check() {   # check NAME COMMAND...: runs it, counts it
    name=$1; shift
    if log=$("$@" 2>&1); then
        pass=$((pass + 1)); echo "ok   $name"; printf '%s\n' "$log" | tail -n 3 | sed 's/^/     /'
    else
        fail=$((fail + 1)); echo "FAIL $name"; printf '%s\n' "$log" | sed 's/^/     /'
    fi
}

run() {   # run PROGRAM ARGS...: in the scratch root's libraries, arm64 under qemu
    if [ "$arch" = "$native" ]; then
        LD_LIBRARY_PATH=$root/usr/lib/$triplet "$@"
    else
        LD_LIBRARY_PATH=$root/usr/lib/$triplet ${QEMU:-qemu-aarch64-static -L /} "$@"
    fi
}

bench_runs() {   # its output's shape (speed under qemu means nothing)
    o=$(run "$root/usr/bin/netdx" bench --quick --json --threads 1 --net tiny) || return 1
    printf '%s\n' "$o" | python3 -c '
import json, sys
d = json.load(sys.stdin)
kinds = {r["kind"] for r in d["rows"]}
assert d["net"] == "tiny" and len(d["rows"]) >= 4, d
assert {"peak", "sgemm"} <= kinds, kinds
for r in d["rows"]:
    v = r.get("gflops") or r.get("images_per_s")
    assert v is not None and v > 0, r
print(d["kernels"], len(d["rows"]), "rows")' || return 1
}
info_runs() {
    o=$(run "$root/usr/bin/netdx" info) || return 1
    printf '%s\n' "$o" | grep -q "^netdx $version$" || { echo "no 'netdx $version' line"; return 1; }
    [ "$arch" != arm64 ] || printf '%s\n' "$o" | grep -qx 'kernels: neon' || {
        echo "arm64 netdx does not run the neon kernels"; return 1; }
    printf '%s\n' "$o" | sed -n '1,3p'
}

use_sgemm() {   # use_sgemm shared|static
    cc=gcc
    [ "$arch" = "$native" ] || cc=${CROSS:-$triplet-}gcc
    pc="pkg-config --define-variable=prefix=$root/usr"
    export PKG_CONFIG_LIBDIR="$root/usr/lib/$triplet/pkgconfig:/usr/lib/$triplet/pkgconfig:/usr/share/pkgconfig"
    exe=$out/use_sgemm_$1
    if [ "$1" = shared ]; then
        $cc "$top/tests/install/use_sgemm.c" $($pc --cflags netdx) -o "$exe" $($pc --libs netdx)
    else
        $cc "$top/tests/install/use_sgemm.c" $($pc --cflags netdx) -o "$exe" \
            "$root/usr/lib/$triplet/libnetdx.a" $($pc --static --libs netdx | sed 's/-lnetdx//')
    fi || return 1
    run "$exe"
}

test_debs() {
    version=$(sed -n 's/^#define NDX_VERSION "\(.*\)"/\1/p' "$top/include/netdx.h")
    debs=""
    for p in libnetdx0 libnetdx-dev netdx; do
        f=$out/${p}_${version}_$arch.deb
        [ -f "$f" ] || { echo "deb-test: $f missing (make deb ARCH=...)" >&2; exit 1; }
        debs="$debs $f"
    done
    check "apt resolves the dependencies of the three $arch packages" \
        apt-get install -s -q $debs
    root=$out/root
    rm -rf "$root" && mkdir -p "$root"
    for f in $debs; do dpkg-deb -x "$f" "$root"; done
    check "netdx info runs from the unpacked netdx_${version}_$arch.deb" info_runs
    check "netdx --help runs" run "$root/usr/bin/netdx" --help
    check "netdx bench --quick --json gives a table of positive figures" bench_runs
    check "a program built with pkg-config against libnetdx-dev (shared) runs" use_sgemm shared
    check "the same program linked with the static libnetdx.a runs" use_sgemm static
    if [ "${DEB_INSTALL:-0}" = 1 ]; then   # a disposable machine (CI): really install
        check "apt-get installs the three $arch packages and their dependencies" \
            apt-get install -y -q $debs
        root=""
        check "netdx info runs from the installed /usr/bin/netdx" info_runs
        check "apt-get removes them again" apt-get remove -y -q netdx libnetdx-dev libnetdx0
    fi
    echo "deb-test: $pass passed, $fail failed"
    [ "$fail" -eq 0 ]
}

case $mode in
build) build ;;
test) test_debs ;;
*) echo "usage: tools/deb.sh build|test ARCH OUT" >&2; exit 2 ;;
esac

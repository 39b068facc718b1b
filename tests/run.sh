#!/bin/sh
# Runs Check suites and totals their summary lines.
#   tests/run.sh [--kernels "default ref"] [--wrap CMD] SUITE...
# Each suite runs once per kernel set named (NETDX_KERNELS unset for
# "default").  A suite that crashes or prints no summary counts as failed.
# Lines "SKIPPED: ..." (a kernel set this CPU lacks, tests/kernel_list.h)
# are counted and totalled as skipped: never passed.
sets=default wrap=
while [ $# -gt 0 ]; do
    case $1 in
    --kernels) sets=$2; shift 2 ;;
    --wrap) wrap=$2; shift 2 ;;
    *) break ;;
    esac
done
pass=0 fail=0 skip=0
for set in $sets; do
    for t in "$@"; do
        echo "== $t (kernels: $set)"
        if [ "$set" = default ]; then
            out=$(env -u NETDX_KERNELS $wrap "$t" 2>&1); rc=$?
        else
            out=$(NETDX_KERNELS=$set $wrap "$t" 2>&1); rc=$?
        fi
        printf '%s\n' "$out"
        skip=$((skip + $(printf '%s\n' "$out" | grep -c '^SKIPPED: ')))
        sum=$(printf '%s\n' "$out" | sed -n 's/^[0-9]*%: Checks: \([0-9]*\), Failures: \([0-9]*\), Errors: \([0-9]*\).*/\1 \2 \3/p' | tail -n 1)
        if [ -z "$sum" ]; then
            echo "$t: no Check summary (exit status $rc)"
            fail=$((fail + 1))
            continue
        fi
        n=${sum%% *}; rest=${sum#* }; f=${rest%% *}; e=${rest#* }
        pass=$((pass + n - f - e)); fail=$((fail + f + e))
        if [ "$rc" -ne 0 ] && [ $((f + e)) -eq 0 ]; then
            echo "$t: exit status $rc"; fail=$((fail + 1))
        fi
    done
done
echo "check: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]

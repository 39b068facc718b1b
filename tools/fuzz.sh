#!/bin/sh
# Runs the libFuzzer harnesses built by `make fuzz` (docs/reliability.md).
#   tools/fuzz.sh run BUILD SECONDS NAME...   fuzz each NAME for SECONDS
#   tools/fuzz.sh regress BUILD NAME...       each NAME once over its inputs
# run: new inputs go to BUILD/corpus/NAME (fuzz/corpus/NAME, the committed
# seeds, is read, never written), a crash, leak or hang to
# BUILD/crashes/NAME/ (commit it under fuzz/crashes/NAME/ with its fix),
# the log to BUILD/logs/NAME.log; the dictionary fuzz/NAME.dict when there
# is one.  regress: every file of fuzz/corpus/NAME and fuzz/crashes/NAME
# run once (leaks checked at exit).  Prints "NAME: ..." per harness and
# exits 1 when any failed.
set -u
mode=${1:-}
build=${2:-}
[ -n "$mode" ] && [ -n "$build" ] || { sed -n '2,11p' "$0" >&2; exit 2; }
shift 2
if [ "$mode" = run ]; then
    seconds=${1:?seconds}
    shift
fi
opts="-rss_limit_mb=2048 -timeout=10 -malloc_limit_mb=512"
failed=""
for name in "$@"; do
    bin=$build/fuzz/$name
    [ -x "$bin" ] || { echo "$name: $bin is not built" >&2; failed="$failed $name"; continue; }
    dict=""
    [ -f "fuzz/$name.dict" ] && dict="-dict=fuzz/$name.dict"
    case $mode in
    run)
        mkdir -p "$build/corpus/$name" "$build/crashes/$name" "$build/logs" "fuzz/corpus/$name"
        log=$build/logs/$name.log
        # shellcheck disable=SC2086
        nice "$bin" $opts $dict -max_total_time="$seconds" -print_final_stats=1 \
            -artifact_prefix="$build/crashes/$name/" \
            "$build/corpus/$name" "fuzz/corpus/$name" >"$log" 2>&1
        rc=$?
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
        cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
        if [ $rc -eq 0 ]; then
            echo "$name: ${execs:-?} executions, ${cov:-?} edges, no crash ($log)"
        else
            echo "$name: FAILED after ${execs:-?} executions, see $log and $build/crashes/$name/"
            failed="$failed $name"
        fi ;;
    regress)
        files=$(find "fuzz/corpus/$name" "fuzz/crashes/$name" -type f 2>/dev/null | sort)
        n=$(printf '%s\n' "$files" | grep -c .)
        if [ "$n" -eq 0 ]; then
            echo "$name: no inputs in fuzz/corpus/$name" >&2
            failed="$failed $name"
            continue
        fi
        log=$(mktemp)
        # shellcheck disable=SC2086
        if "$bin" $opts $files >"$log" 2>&1; then
            echo "$name: $n passed, 0 failed"
        else
            cat "$log" >&2
            echo "$name: FAILED on one of $n inputs"
            failed="$failed $name"
        fi
        rm -f "$log" ;;
    *) echo "tools/fuzz.sh: unknown mode '$mode' (run, regress)" >&2; exit 2 ;;
    esac
done
[ -z "$failed" ] || { echo "fuzz: failed:$failed" >&2; exit 1; }

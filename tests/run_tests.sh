#!/usr/bin/env bash
# Run cmocka test binaries, then a line per binary (counts, wall seconds)
# and one summary in cmocka's format for the whole run (a binary may run
# several groups).
# Exit non-zero if any binary failed. $PDVM_RUNNER, when set, runs each
# binary (an emulator such as qemu-aarch64-static for a cross build).
# $PDVM_TEST_JOBS binaries run at once (default 1), started in the order
# given (so list the longest first); each one's output is printed whole
# when it ends, and the per-binary lines keep the order given.
jobs=${PDVM_TEST_JOBS:-1}
case $jobs in '' | *[!0-9]* | 0) echo "run_tests.sh: PDVM_TEST_JOBS='$jobs' is not a count" >&2; exit 2 ;; esac
# Several binaries at once keep the cores busy: llvmpipe then runs each
# one's shaders on that binary's own thread instead of a pool of its own.
[ "$jobs" -gt 1 ] && export LP_NUM_THREADS=${LP_NUM_THREADS:-0}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

run_one() { # INDEX BINARY: output, exit status and seconds into $tmp/INDEX.*
    local start rc
    start=$(date +%s)
    $PDVM_RUNNER "$2" > "$tmp/$1.out" 2>&1; rc=$?
    echo "$rc $(($(date +%s) - start))" > "$tmp/$1.rc"
}

count() { # KIND FILE: the sum of cmocka's "[  KIND ] N test(s)" lines
    sed -n "s/^\[  $1 *\] \([0-9]*\) test.*/\1/p" "$2" | awk '{n += $1} END {if (NR) print n}'
}

i=0; running=0
for t in "$@"; do
    if [ "$running" -ge "$jobs" ]; then wait -n; running=$((running - 1)); fi
    run_one "$i" "$t" &
    running=$((running + 1)); i=$((i + 1))
    # Print each finished binary's output once, as soon as it is known.
    for f in "$tmp"/*.rc; do
        [ -e "$f" ] && [ ! -e "${f%.rc}.shown" ] || continue
        cat "${f%.rc}.out"; : > "${f%.rc}.shown"
    done
done
wait
for f in "$tmp"/*.rc; do
    [ -e "$f" ] && [ ! -e "${f%.rc}.shown" ] || continue
    cat "${f%.rc}.out"
done

passed=0; failed=0; skipped=0; bad=""; summary=""
i=0
for t in "$@"; do
    read -r rc secs < "$tmp/$i.rc"
    p=$(count PASSED "$tmp/$i.out"); f=$(count FAILED "$tmp/$i.out"); s=$(count SKIPPED "$tmp/$i.out")
    passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0})); skipped=$((skipped + ${s:-0}))
    if [ "$rc" -ne 0 ]; then
        bad="$bad $(basename "$t")"
        [ -z "$f" ] && failed=$((failed + 1))   # crashed before cmocka's summary
    fi
    summary="$summary$(printf '  %-22s %4s passed %3s failed %3s skipped %5s s%s' "$(basename "$t")" \
        "${p:-0}" "${f:-0}" "${s:-0}" "$secs" "$([ "$rc" -ne 0 ] && echo "  (exit $rc)")")
"
    i=$((i + 1))
done
printf 'per binary:\n%s' "$summary"
total=$((passed + failed + skipped))
echo "[==========] all: $total test(s) run from $# binaries."
[ $skipped -gt 0 ] && echo "[  SKIPPED ] $skipped test(s)."
[ -n "$bad" ] && echo "[  FAILED  ] $failed test(s), in:$bad"
echo "[  PASSED  ] $passed test(s)."
[ -z "$bad" ]

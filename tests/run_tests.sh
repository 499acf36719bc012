#!/bin/sh
# Run cmocka test binaries one after another, then a line per binary
# (counts, wall seconds) and one summary in cmocka's format for the whole
# run (a binary may run several groups).
# Exit non-zero if any binary failed. $PDVM_RUNNER, when set, runs each
# binary (an emulator such as qemu-aarch64-static for a cross build).
passed=0; failed=0; skipped=0; bad=""
summary=""
for t in "$@"; do
    start=$(date +%s)
    out=$($PDVM_RUNNER "$t" 2>&1); rc=$?
    secs=$(($(date +%s) - start))
    printf '%s\n' "$out"
    p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | awk '{n += $1} END {if (NR) print n}')
    f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | awk '{n += $1} END {if (NR) print n}')
    s=$(printf '%s\n' "$out" | sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' | awk '{n += $1} END {if (NR) print n}')
    passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0})); skipped=$((skipped + ${s:-0}))
    if [ $rc -ne 0 ]; then
        bad="$bad $(basename "$t")"
        [ -z "$f" ] && failed=$((failed + 1))   # crashed before cmocka's summary
    fi
    summary="$summary$(printf '  %-22s %4s passed %3s failed %3s skipped %5s s%s' "$(basename "$t")" \
        "${p:-0}" "${f:-0}" "${s:-0}" "$secs" "$([ $rc -ne 0 ] && echo "  (exit $rc)")")
"
done
printf 'per binary:\n%s' "$summary"
total=$((passed + failed + skipped))
echo "[==========] all: $total test(s) run from $# binaries."
[ $skipped -gt 0 ] && echo "[  SKIPPED ] $skipped test(s)."
[ -n "$bad" ] && echo "[  FAILED  ] $failed test(s), in:$bad"
echo "[  PASSED  ] $passed test(s)."
[ -z "$bad" ]

#!/bin/sh
# End to end across machines: `pdvm run` greedy on each model, at the
# driver's limits and at PDVM_LIMITS=minimum, by the build under test
# ($PDVM_BIN through $PDVM_RUNNER, e.g. arm64 under qemu-aarch64-static)
# and by this machine's own build ($NATIVE): the texts must be equal byte
# for byte. Models are $MODELS_DIR/<name>.gguf; a missing one is skipped,
# or fails under PDVM_REQUIRE_MODELS=1.
# Usage: NATIVE=build/pdvm PDVM_BIN=... PDVM_RUNNER=... tests/compare_cross.sh NAME...
set -u
: "${NATIVE:?}" "${PDVM_BIN:?}" "${MODELS_DIR:=../shared/models}"
prompt="Once upon a time"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0 skipped=0
for name in "$@"; do
    model=$MODELS_DIR/$name.gguf
    if [ ! -r "$model" ]; then
        if [ "${PDVM_REQUIRE_MODELS:-0}" = 1 ]; then
            echo "[  FAILED  ] $name: $model is missing (PDVM_REQUIRE_MODELS=1)"; failed=$((failed + 1))
        else
            echo "[  SKIPPED ] $name: $model is missing"; skipped=$((skipped + 1))
        fi
        continue
    fi
    for limits in driver minimum; do
        env=; [ $limits = minimum ] && env=PDVM_LIMITS=minimum
        env -u PDVM_LIMITS $env "$NATIVE" run -m "$model" -p "$prompt" -n 64 --temp 0 \
            > "$tmp/want" 2> "$tmp/want.err" ||
            { echo "[  FAILED  ] $name $limits: native run failed: $(tail -1 "$tmp/want.err")"
              failed=$((failed + 1)); continue; }
        start=$(date +%s)
        env -u PDVM_LIMITS $env ${PDVM_RUNNER:-} "$PDVM_BIN" run -m "$model" -p "$prompt" -n 64 \
            --temp 0 > "$tmp/got" 2> "$tmp/got.err" ||
            { echo "[  FAILED  ] $name $limits: run failed: $(tail -1 "$tmp/got.err")"
              failed=$((failed + 1)); continue; }
        secs=$(($(date +%s) - start))
        if cmp -s "$tmp/want" "$tmp/got"; then
            echo "[       OK ] $name $limits: $(wc -c < "$tmp/got") bytes equal (${secs} s)"
            passed=$((passed + 1))
        else
            echo "[  FAILED  ] $name $limits: texts differ"
            diff "$tmp/want" "$tmp/got" | head -5
            failed=$((failed + 1))
        fi
    done
done
echo "[==========] compare_cross: $((passed + failed + skipped)) run(s)."
[ $skipped -gt 0 ] && echo "[  SKIPPED ] $skipped test(s)."
[ $failed -gt 0 ] && echo "[  FAILED  ] $failed test(s)."
echo "[  PASSED  ] $passed test(s)."
[ $failed -eq 0 ]

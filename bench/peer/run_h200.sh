#!/bin/sh
# bench/peer/run_h200.sh PDVM PEER LIBDIR [SHAPE:TYPE ...]
#
# pdvm and llama.cpp's Vulkan backend side by side on the same random-weight
# GGUF files, on the GPU machine (no network there: everything comes from
# the arguments). For each SHAPE:TYPE (default: tinyllama-1.1b:q4_0
# llama-3-8b:q4_0 phi-4-14b:q4_0 llama-3-8b:q8_0 llama-3-8b:q4_K):
#   1. PDVM bench --synthetic SHAPE --type TYPE --write-gguf (on this disk,
#      $MODELS_DIR, default /tmp/pdvm-peer-models; removed afterwards unless
#      KEEP=1);
#   2. PDVM bench -m FILE --both (fused and unfused), prefill of 512 tokens
#      and 128 decoded tokens at depth 0, then 128 decoded at depth 1024;
#   3. PEER (bench/peer/llama_peer, built with build.sh against LIBDIR)
#      on the same file, the same counts and depths, all layers on the GPU,
#      flash attention on; LIBDIR (the node-llama-cpp linux-x64-vulkan
#      package's bins/linux-x64-vulkan folder) is its library path.
# Rows (pdvm's and llama.cpp's, JSON lines as pdvm bench writes them) go to
# $OUT (default bench/results/peer-nvidia-h200.jsonl: emptied first when
# no SHAPE:TYPE is given, appended to otherwise, so that a run split over
# several commands adds up), the versions and the device to $OUT's .txt,
# and the comparison (llama.cpp as the baseline, pdvm fused as the current
# run) is printed and written to $OUT's .md.
# REPS (default 3) repetitions, N_PROMPT (512), N_GEN (128) and DEPTHS
# ("0 1024"; prefill is measured at the first only) set the counts;
# PEER_ARGS are added to llama_peer's (e.g. "-t 1" on a busy CPU);
# PDVM_PLATFORM passes through to pdvm; PDVM_COMMIT names the binary's
# commit in the .txt.
set -u
[ $# -ge 3 ] || { echo "usage: $0 PDVM PEER LIBDIR [SHAPE:TYPE ...]" >&2; exit 2; }
pdvm=$1 peer=$2 lib=$3
shift 3
out=${OUT:-bench/results/peer-nvidia-h200.jsonl}
models=${MODELS_DIR:-/tmp/pdvm-peer-models}
reps=${REPS:-3} n_prompt=${N_PROMPT:-512} n_gen=${N_GEN:-128} depths=${DEPTHS:-0 1024}
if [ $# -eq 0 ]; then
    set -- tinyllama-1.1b:q4_0 llama-3-8b:q4_0 phi-4-14b:q4_0 llama-3-8b:q8_0 llama-3-8b:q4_K
    : > "$out"
fi
mkdir -p "$models" "$(dirname "$out")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

info=${out%.jsonl}.txt
{
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "pdvm: commit ${PDVM_COMMIT:-unknown (set PDVM_COMMIT)}, binary sha256 $(sha256sum "$pdvm" | cut -c1-16)"
    echo "llama.cpp: node-llama-cpp prebuilt $(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' \
        "$lib/../../package.json" 2>/dev/null | head -n 1) ($lib)"
    nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | sed 's/^/gpu: /'
    echo "rows: $*; prefill $n_prompt, decode $n_gen at depths $depths, $reps repetitions"
    "$pdvm" info 2>&1 | grep -E '^(platform|renderer|GL |bandwidth|latency)' | sed 's/^/pdvm info: /' 
} >> "$info"

status=0
for cfg in "$@"; do
    shape=${cfg%%:*} type=${cfg#*:}
    f=$models/$shape-$type.gguf
    echo "== $shape $type"
    if ! "$pdvm" bench --synthetic "$shape" --type "$type" --write-gguf "$f"; then
        status=1; continue
    fi
    p=$n_prompt
    for depth in $depths; do
        "$pdvm" bench -m "$f" --both -p "$p" -n "$n_gen" --reps "$reps" --depth "$depth" \
            --json --out "$tmp/pdvm.jsonl" >/dev/null || status=1
        # shellcheck disable=SC2086 # PEER_ARGS: words on purpose
        LLAMA_LIB_DIR=$lib LD_LIBRARY_PATH=$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \
            "$peer" -m "$f" -p "$p" -n "$n_gen" -r "$reps" -d "$depth" --type "$type" \
            ${PEER_ARGS:-} >> "$tmp/peer.jsonl" 2> "$tmp/peer.log" ||
            { status=1; echo "llama_peer failed on $f (log: $tmp/peer.log):"; tail -n 5 "$tmp/peer.log"; }
        p=0 # pdvm's prefill does not depend on the depth: measured once
    done
    [ "${KEEP:-0}" = 1 ] || rm -f "$f"
done

cat "$tmp/pdvm.jsonl" "$tmp/peer.jsonl" >> "$out" 2>/dev/null
# llama.cpp as the baseline, pdvm's fused chain as the current run: the
# "change" column is pdvm fused against llama.cpp; the exit status of the
# comparison is not this script's (pdvm slower is a finding, not a failure).
"$pdvm" bench --compare "$tmp/peer.jsonl" "$tmp/pdvm.jsonl" --current-mode fused \
    --md "${out%.jsonl}.md" || true
exit $status

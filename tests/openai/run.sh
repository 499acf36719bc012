#!/bin/sh
# The npm package `openai` completes a streaming chat against pdvm serve.
# Installs the package into build/npm (gitignored) when missing; skips with
# a message when npm or node is absent. Usage: tests/openai/run.sh [MODEL]
set -eu
cd "$(dirname "$0")/../.."
MODEL=${1:-../shared/models/stories260K.gguf}
PDVM_BIN=${PDVM_BIN:-build/pdvm}
PREFIX=build/npm
if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
    echo "openai client test: skipped (no npm/node)"; exit 0
fi
[ -f "$PREFIX/node_modules/openai/package.json" ] ||
    npm install --prefix "$PREFIX" --no-audit --no-fund --loglevel=error openai >&2
echo "openai $(node -p "require('./$PREFIX/node_modules/openai/package.json').version"), node $(node --version)"
LOG=$(mktemp)
"$PDVM_BIN" serve -m "$MODEL" --port 0 --backend cpu --api-key pdvm-test-key 2>"$LOG" &
PID=$!
trap 'kill $PID 2>/dev/null || true; rm -f "$LOG"' EXIT
# The port is printed at start; the model is loaded when "model loaded" is.
i=0
until grep -q "model loaded" "$LOG"; do
    i=$((i + 1))
    if [ $i -gt 600 ] || ! kill -0 $PID 2>/dev/null; then cat "$LOG" >&2; exit 1; fi
    sleep 0.1
done
PORT=$(sed -n 's|.*http://127.0.0.1:\([0-9]*\).*|\1|p' "$LOG" | head -1)
node tests/openai/chat_stream.mjs "http://127.0.0.1:$PORT/v1" "$(pwd)/$PREFIX"
kill $PID
wait $PID
trap - EXIT
rm -f "$LOG"

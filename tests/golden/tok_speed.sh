#!/usr/bin/env bash
# Tokenizer speed, pdvm against llama.cpp in one run, on 1 MB of mixed text with the Llama 3
# vocabulary: 40% English (the project's docs, repeated), 40% code (src/*.c), 20% CJK
# (Chinese, Japanese and Korean sentences drawn with a fixed seed). Run from the project root
# after `make`:  tests/golden/tok_speed.sh [/tmp/oracle] [/tmp/llama.cpp]
set -euo pipefail
ORACLE=${1:-/tmp/oracle}
SRC=${2:-/tmp/llama.cpp}
D=$ORACLE/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64
VOCAB=../shared/models/vocab/ggml-vocab-llama-bpe.gguf
TMP=$(mktemp -d)
F=$TMP/mixed-1MB.txt
gcc -O2 -I"$SRC/include" -I"$SRC/ggml/include" tests/golden/tok_oracle.c -o "$TMP/tok_oracle" \
    "$D/libllama.v0.5.0.so" "$D/libggml.v0.5.0.so" "$D/libggml-base.so" -Wl,-rpath,"$D"
python3 - "$F" <<'PY'
import random, sys, glob
rnd = random.Random(20261203)
english = "".join(open(p, encoding="utf-8").read() for p in
                  ["README.md", "../shared/docs/DESIGN.md", "tests/golden/README.md"])
code = "".join(open(p, encoding="utf-8").read() for p in sorted(glob.glob("src/*.c")))
def cjk_sentence():
    pools = [(0x4E00, 0x9FA5), (0x3041, 0x3096), (0x30A1, 0x30FA), (0xAC00, 0xD7A3)]
    lo, hi = pools[rnd.randrange(4)]
    s = "".join(chr(rnd.randint(lo, hi)) for _ in range(rnd.randint(5, 30)))
    return s + rnd.choice(["。", "，", "！", "？", " ", "\n"])
def take(text, n):
    return (text * (n // len(text) + 1))[:n]
parts = [take(english, 400_000), take(code, 400_000)]
cjk = ""
while len(cjk.encode()) < 200_000:
    cjk += cjk_sentence()
parts.append(cjk)
data = "".join(parts).encode()[:1_000_000]
data = data.decode("utf-8", "ignore").encode()
open(sys.argv[1], "wb").write(data)
PY
ls -l "$F"
# Warm the page cache for both readers first.
cat "$VOCAB" "$F" > /dev/null
echo "pdvm tokenize -m $VOCAB -f F --show-count (vocabulary load included):"
/usr/bin/time -f "  %e s wall, %M KiB peak" build/pdvm tokenize -m "$VOCAB" -f "$F" --show-count \
    2>&1 | tail -2
echo "pdvm, vocabulary load alone (-p ''):"
/usr/bin/time -f "  %e s wall" build/pdvm tokenize -m "$VOCAB" -p '' 2>&1 >/dev/null
echo "llama.cpp (tok_oracle time: load, then one llama_tokenize call):"
/usr/bin/time -f "  %e s wall, %M KiB peak" "$TMP/tok_oracle" time "$VOCAB" "$F" "$TMP/llama.ids"
build/pdvm tokenize -m "$VOCAB" -f "$F" --ids > "$TMP/pdvm.ids"
cmp "$TMP/pdvm.ids" "$TMP/llama.ids" && echo "ids: identical ($(wc -c < "$TMP/pdvm.ids") bytes of --ids output)"
rm -rf "$TMP"

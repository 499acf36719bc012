#!/usr/bin/env bash
# Rebuild tests/data/tokenizer/*.tsv from llama.cpp (the prebuilt library of node-llama-cpp,
# installed as tests/golden/README.md says). Run from the project root:
#   tests/golden/tok_generate.sh [/tmp/oracle] [/tmp/llama.cpp]
set -euo pipefail
ORACLE=${1:-/tmp/oracle}
SRC=${2:-/tmp/llama.cpp}
D=$ORACLE/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64
OUT=tests/data/tokenizer
VOCAB=../shared/models/vocab
BIN=$(mktemp -d)/tok_oracle
gcc -O2 -Wall -Wextra -I"$SRC/include" -I"$SRC/ggml/include" tests/golden/tok_oracle.c -o "$BIN" \
    "$D/libllama.v0.5.0.so" "$D/libggml.v0.5.0.so" "$D/libggml-base.so" -Wl,-rpath,"$D"

for v in llama-spm llama-bpe qwen2 phi-3 gpt-2 deepseek-llm starcoder; do
    "$BIN" ids "$VOCAB/ggml-vocab-$v.gguf" $OUT/strings.txt > "$OUT/$v.tsv"
done
# Every other pre-tokenizer over the Llama 3 vocabulary (tokenizer.ggml.pre overridden);
# add_special only adds BOS/EOS, so these keep the add_special = 0 lines.
for pre in default dbrx glm4 jais-2 deepseek-coder deepseek-v3 spark2_5 falcon smollm qwen35 \
           ufakzeka laguna poro-chat viking tekken gpt-4o bailingmoe seed-coder minicpm5; do
    "$BIN" ids "$VOCAB/ggml-vocab-llama-bpe.gguf" $OUT/strings.txt "tokenizer.ggml.pre=$pre" |
        awk -F'\t' '$2 != "10" && $2 != "11"' > "$OUT/llama-bpe@$pre.tsv"
done
# SentencePiece without the dummy prefix (Gemma's vocabularies), and with EOS added.
"$BIN" ids "$VOCAB/ggml-vocab-llama-spm.gguf" $OUT/strings.txt \
    tokenizer.ggml.add_space_prefix=false > "$OUT/llama-spm@no-space-prefix.tsv"
"$BIN" ids "$VOCAB/ggml-vocab-llama-spm.gguf" $OUT/strings.txt tokenizer.ggml.add_eos_token=true |
    awk -F'\t' '$2 != "00" && $2 != "01"' > "$OUT/llama-spm@add-eos.tsv"

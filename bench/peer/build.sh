#!/bin/sh
# bench/peer/build.sh LIBDIR [OUT]
# Build llama_peer against the prebuilt llama.cpp libraries of a
# node-llama-cpp package (LIBDIR: its bins/<platform> folder, e.g.
# /tmp/oracle/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64 for the
# CPU, .../linux-x64-vulkan/bins/linux-x64-vulkan for Vulkan) and the
# headers of the same release ($LLAMA_SRC, default /tmp/llama.cpp). The
# binary's RUNPATH is LIBDIR; to run it elsewhere set LD_LIBRARY_PATH and
# LLAMA_LIB_DIR to the copied folder (run_h200.sh does).
set -eu
[ $# -ge 1 ] || { echo "usage: $0 LIBDIR [OUT]" >&2; exit 2; }
lib=$(cd "$1" && pwd) out=${2:-build/llama_peer}
src=${LLAMA_SRC:-/tmp/llama.cpp}
# libllama.v0.5.0.so or libllama.vulkan.v0.5.0.so, libggml.* likewise
llama='' ggml=''
for f in "$lib"/libllama.*.so; do [ -e "$f" ] && llama=$f; done
for f in "$lib"/libggml.*.so; do [ -e "$f" ] && ggml=$f; done
if [ -z "$llama" ] || [ -z "$ggml" ]; then
    echo "$0: no libllama.*.so / libggml.*.so in $lib" >&2; exit 1
fi
mkdir -p "$(dirname "$out")"
${CC:-cc} -std=c11 -D_DEFAULT_SOURCE -O2 -Wall -Wextra -Werror \
  -I"$src/include" -I"$src/ggml/include" "$(dirname "$0")/llama_peer.c" -o "$out" \
  "$llama" "$ggml" "$lib/libggml-base.so" -Wl,-rpath,"$lib"
echo "$out (libraries: $lib)"

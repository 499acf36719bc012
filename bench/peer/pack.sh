#!/bin/sh
# bench/peer/pack.sh VULKAN_BINS OUTDIR
# What run_h200.sh needs of llama.cpp on the GPU machine, small enough to
# carry there (under 64 MiB): OUTDIR/llama_peer built against VULKAN_BINS
# (the linux-x64-vulkan package's bins/linux-x64-vulkan folder) and
# OUTDIR/lib with the libraries it loads: libllama, libggml, libggml-base,
# the Vulkan backend, the x86-64 CPU backends (baseline, AVX2, AVX-512:
# ggml loads the best one the CPU runs), and this machine's Vulkan loader
# libvulkan.so.1 in case the GPU machine's image has none. Then:
#   bench/peer/run_h200.sh build/pdvm OUTDIR/llama_peer OUTDIR/lib
set -eu
[ $# -eq 2 ] || { echo "usage: $0 VULKAN_BINS OUTDIR" >&2; exit 2; }
bins=$1 out=$2
mkdir -p "$out/lib"
for f in "$bins"/libllama.*.so "$bins"/libggml.*.so "$bins"/libggml-base.so \
         "$bins"/libggml-vulkan.so "$bins"/libggml-cpu-x64.so "$bins"/libggml-cpu-haswell.so \
         "$bins"/libggml-cpu-zen4.so "$bins"/libggml-cpu-sapphirerapids.so; do
    [ -e "$f" ] && cp "$f" "$out/lib/"
done
loader=$(ldconfig -p | sed -n 's/.*libvulkan\.so\.1 (libc6,x86-64) => //p' | head -n 1)
if [ -n "$loader" ]; then cp -L "$loader" "$out/lib/libvulkan.so.1"
else echo "$0: no libvulkan.so.1 here (Debian: libvulkan1); the GPU machine must have one" >&2; fi
"$(dirname "$0")/build.sh" "$bins" "$out/llama_peer" >/dev/null
du -sh "$out"

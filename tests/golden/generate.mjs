#!/usr/bin/env node
// Regenerates the golden greedy-decoding outputs in tests/golden/ with llama.cpp
// (through the npm package node-llama-cpp and its prebuilt CPU binaries).
// This is an independent implementation: nothing of pdvm is used here.
//
// usage: node tests/golden/generate.mjs NLC_DIR [MODELS_DIR] [OUT_DIR] [--llama-defaults]
//   NLC_DIR     folder where `npm install node-llama-cpp@3.22.1 @node-llama-cpp/linux-x64@3.22.1`
//               was run (it holds node_modules/node-llama-cpp)
//   MODELS_DIR  default: ../shared/models relative to the project root
//   OUT_DIR     default: tests/golden (this script's folder)
//   --llama-defaults  use llama.cpp's default KV cache (F16) and flash attention "auto"
//               instead of the F32 KV cache / no flash attention used for the golden files
//               (for comparison only; do not write those into tests/golden)
//
// For each model file and prompt it writes
//   <stem>.tsv       prompt \t prompt_ids \t generated_ids \t generated_text (escaped \\ \t \n \r)
//   <stem>.top2.tsv  per generated step: the chosen token and logit, the runner-up token and logit,
//                    and the margin (difference of the two logits)
// and provenance.json (tool versions and settings).

import path from "node:path";
import fs from "node:fs";
import os from "node:os";
import {fileURLToPath, pathToFileURL} from "node:url";
import {dequantizeGguf} from "./dequant-gguf.mjs";

const args = process.argv.slice(2);
const useLlamaDefaults = args.includes("--llama-defaults");
const positional = args.filter((a) => !a.startsWith("--"));
if (positional.length < 1) {
    console.error("usage: node generate.mjs NLC_DIR [MODELS_DIR] [OUT_DIR] [--llama-defaults]");
    process.exit(2);
}
const here = path.dirname(fileURLToPath(import.meta.url));
const nlcDir = path.resolve(positional[0]);
const modelsDir = path.resolve(positional[1] ?? path.join(here, "..", "..", "..", "shared", "models"));
const outDir = path.resolve(positional[2] ?? here);

const MODELS = ["stories260K.gguf", "stories260K-f16.gguf", "stories260K-q8_0.gguf", "stories260K-q4_0.gguf"];
const PROMPTS = [
    "Once upon a time",
    "Lily and Ben went to the park",
    "The little dog",
    "One day, a girl named Sue found a",
];
const MAX_NEW_TOKENS = 200;

const nlcPkgDir = path.join(nlcDir, "node_modules", "node-llama-cpp");
const nlcPkg = JSON.parse(fs.readFileSync(path.join(nlcPkgDir, "package.json"), "utf8"));
const binPkgPath = path.join(nlcDir, "node_modules", "@node-llama-cpp", "linux-x64", "package.json");
const binPkg = fs.existsSync(binPkgPath) ? JSON.parse(fs.readFileSync(binPkgPath, "utf8")) : null;
const {getLlama, LlamaLogLevel} = await import(pathToFileURL(path.join(nlcPkgDir, "dist", "index.js")).href);

// build: "never" -> only the prebuilt binary package is used; nothing is built or downloaded.
const llama = await getLlama({gpu: false, build: "never", logLevel: LlamaLogLevel.error});

const contextOptions = {
    contextSize: 512,
    batchSize: 512,
    sequences: 1,
    threads: 1,
    ...(useLlamaDefaults ? {} : {
        flashAttention: false,
        experimentalKvCacheKeyType: "F32",
        experimentalKvCacheValueType: "F32",
    }),
};
// temperature 0 -> node-llama-cpp's sampler chain is exactly llama_sampler_init_greedy()
// (no top-k/top-p/min-p, no repetition/DRY penalty, no token bias, no grammar).
const generateNext = {token: true, logits: {filter: {tokens: [], includeTop: 2}}, options: {temperature: 0}};

function escapeField(s) {
    return s.replace(/\\/g, "\\\\").replace(/\t/g, "\\t").replace(/\n/g, "\\n").replace(/\r/g, "\\r");
}

const summary = [];
fs.mkdirSync(outDir, {recursive: true});
const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), "pdvm-golden-"));

async function runModel(modelPath) {
    const model = await llama.loadModel({modelPath, gpuLayers: 0});
    const bos = model.tokens.bos;
    const eos = model.tokens.eos;
    const results = [];
    for (const prompt of PROMPTS) {
        const context = await model.createContext(contextOptions);
        const sequence = context.getSequence();
        const promptIds = [bos, ...model.tokenize(prompt, false)];
        const generated = [];
        const top2 = [];
        let input = promptIds.map((t, i) => (i === promptIds.length - 1 ? [t, {generateNext}] : t));
        for (let step = 0; step < MAX_NEW_TOKENS; step++) {
            const out = await sequence.controlledEvaluate(input);
            const next = out[out.length - 1].next;
            const [[t1, l1], [t2, l2]] = [...next.logits.entries()];
            if (t1 !== next.token) throw new Error(`greedy token ${next.token} is not the top logit ${t1}`);
            top2.push([step, t1, l1, t2, l2, l1 - l2]);
            generated.push(next.token);
            if (next.token === eos) break;
            input = [[next.token, {generateNext}]];
        }
        const textIds = generated.filter((t) => t !== eos);
        // lastTokens = the prompt, so a leading "▁" of the first generated piece stays a space
        const text = model.detokenize(textIds, false, promptIds);
        results.push({prompt, promptIds, generated, text, top2, eos: generated.at(-1) === eos});
        await context.dispose();
    }
    await model.dispose();
    return results;
}

function writeResults(name, results) {
    const lines = results.map((r) => [r.prompt, r.promptIds.join(" "), r.generated.join(" "), escapeField(r.text)].join("\t"));
    fs.writeFileSync(path.join(outDir, `${name}.tsv`), lines.join("\n") + "\n");
    const top2Lines = ["# prompt\tstep\ttoken\tlogit\trunner_up\trunner_up_logit\tmargin"];
    for (const r of results) for (const row of r.top2) top2Lines.push([escapeField(r.prompt), ...row].join("\t"));
    fs.writeFileSync(path.join(outDir, `${name}.top2.tsv`), top2Lines.join("\n") + "\n");
}

function firstDiff(a, b) {
    for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return i;
    return a.length === b.length ? null : Math.min(a.length, b.length);
}

for (const file of MODELS) {
    const stem = file.replace(/\.gguf$/, "");
    const native = await runModel(path.join(modelsDir, file));
    writeResults(stem, native);
    let f32act = null;
    if (stem !== "stories260K") {
        // the same weight values, dequantized exactly to F32: llama.cpp then keeps activations in F32
        const deqPath = path.join(tmpDir, file);
        dequantizeGguf(path.join(modelsDir, file), deqPath);
        f32act = await runModel(deqPath);
        writeResults(`${stem}.f32act`, f32act);
    }
    native.forEach((r, i) => {
        const m = r.top2.reduce((a, row) => (row[5] < a[5] ? row : a));
        summary.push({
            model: file, prompt: r.prompt, generated: r.generated.length, eos: r.eos,
            minMargin: m[5], minMarginStep: m[0],
            firstStepWithMarginBelow0_01: r.top2.find((row) => row[5] < 0.01)?.[0] ?? null,
            f32actFirstDifferentStep: f32act ? firstDiff(r.generated, f32act[i].generated) : null,
        });
    });
}
fs.rmSync(tmpDir, {recursive: true, force: true});

const provenance = {
    tool: "llama.cpp via node-llama-cpp (prebuilt CPU binaries)",
    nodeLlamaCpp: nlcPkg.version,
    binaryPackage: binPkg ? `${binPkg.name}@${binPkg.version}` : null,
    llamaCppRelease: llama.llamaCppRelease,
    buildType: llama.buildType,
    gpu: llama.gpu,
    node: process.version,
    // which ggml CPU variant (SIMD level) was loaded; summation order and so the last bits of the logits depend on it
    cpuBackend: (() => {
        try {
            return [...new Set(fs.readFileSync("/proc/self/maps", "utf8").split("\n")
                .map((l) => l.split(/\s+/).pop()).filter((f) => /libggml-cpu/.test(f ?? "")).map((f) => path.basename(f)))];
        } catch { return null; }
    })(),
    settings: {
        addBos: true,
        sampler: "greedy (temperature 0; no top-k/top-p/min-p, no repetition or DRY penalty)",
        maxNewTokens: MAX_NEW_TOKENS,
        stopAtEos: true,
        promptEvaluation: "whole prompt in one batch, then one token per decode",
        ...contextOptions,
        flashAttention: contextOptions.flashAttention ?? "auto (llama.cpp default)",
        kvCacheType: useLlamaDefaults ? "F16 (llama.cpp default)" : "F32",
        gpuLayers: 0,
    },
    summary,
};
fs.writeFileSync(path.join(outDir, "provenance.json"), JSON.stringify(provenance, null, 2) + "\n");
for (const s of summary)
    console.log(`${s.model}\t${JSON.stringify(s.prompt)}\tn=${s.generated}${s.eos ? " (EOS)" : ""}\tmin margin ${s.minMargin.toFixed(4)} at step ${s.minMarginStep}` +
        `\tfirst margin<0.01 at ${s.firstStepWithMarginBelow0_01}\tvs f32act: ${s.f32actFirstDifferentStep === null ? "same" : "differs from step " + s.f32actFirstDifferentStep}`);

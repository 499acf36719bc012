// Minimal GGUF (v2/v3) reader/writer used by generate.mjs: it rewrites a model file with every
// F16 / Q8_0 / Q4_0 tensor dequantized exactly to F32, so that llama.cpp can be run on the very same
// weight values with F32 activations (its CPU backend otherwise rounds activations to F16 for F16
// weights and quantizes them to Q8_0 for Q8_0/Q4_0 weights before the dot products).
// Written from the GGUF specification and the ggml block layouts; independent of pdvm.
//
// usage as a script: node dequant-gguf.mjs IN.gguf OUT.gguf
//                    node dequant-gguf.mjs --check quant-vectors.gguf

import fs from "node:fs";
import {fileURLToPath} from "node:url";

const GGML_F32 = 0, GGML_F16 = 1, GGML_Q4_0 = 2, GGML_Q8_0 = 8;
const GGUF_TYPE_SIZE = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8};
const GGUF_STRING = 8, GGUF_ARRAY = 9, GGUF_UINT32 = 4;

export function halfToFloat(h) {
    const s = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const m = h & 0x3ff;
    if (e === 0) return s * m * 2 ** -24;            // zero / subnormal
    if (e === 31) return m ? NaN : s * Infinity;
    return s * (1 + m / 1024) * 2 ** (e - 15);
}

export function parseGguf(buf) {
    let p = 0;
    const u32 = () => { const v = buf.readUInt32LE(p); p += 4; return v; };
    const u64 = () => { const v = Number(buf.readBigUInt64LE(p)); p += 8; return v; };
    const str = () => { const n = u64(); const s = buf.toString("utf8", p, p + n); p += n; return s; };
    const skipValue = (type) => {
        if (type === GGUF_STRING) { const n = u64(); p += n; return; }
        if (type === GGUF_ARRAY) { const t = u32(); const n = u64(); for (let i = 0; i < n; i++) skipValue(t); return; }
        if (!(type in GGUF_TYPE_SIZE)) throw new Error(`unknown GGUF value type ${type}`);
        p += GGUF_TYPE_SIZE[type];
    };
    if (buf.toString("latin1", 0, 4) !== "GGUF") throw new Error("not a GGUF file");
    p = 4;
    const version = u32();
    if (version < 2) throw new Error(`GGUF v${version} not supported`);
    const nTensors = u64();
    const nKv = u64();
    const kvStart = p;
    const kv = {};
    for (let i = 0; i < nKv; i++) {
        const key = str();
        const type = u32();
        const valueOffset = p;
        if (type === GGUF_UINT32) kv[key] = {type, value: buf.readUInt32LE(p), valueOffset};
        else if (type === GGUF_STRING) { const q = p; kv[key] = {type, value: str(), valueOffset}; p = q; }
        else kv[key] = {type, valueOffset};
        skipValue(type);
    }
    const kvEnd = p;
    const tensors = [];
    for (let i = 0; i < nTensors; i++) {
        const name = str();
        const nDims = u32();
        const dims = [];
        for (let d = 0; d < nDims; d++) dims.push(u64());
        const type = u32();
        const offset = u64();
        tensors.push({name, dims, type, offset});
    }
    const alignment = kv["general.alignment"]?.value ?? 32;
    const dataStart = Math.ceil(p / alignment) * alignment;
    return {version, kvStart, kvEnd, nKv, kv, tensors, alignment, dataStart};
}

export function tensorToF32(buf, info, t) {
    const n = t.dims.reduce((a, b) => a * b, 1);
    let p = info.dataStart + t.offset;
    const out = new Float32Array(n);
    if (t.type === GGML_F32) {
        for (let i = 0; i < n; i++) out[i] = buf.readFloatLE(p + 4 * i);
    } else if (t.type === GGML_F16) {
        for (let i = 0; i < n; i++) out[i] = halfToFloat(buf.readUInt16LE(p + 2 * i));
    } else if (t.type === GGML_Q8_0) {      // block: f16 d, int8 q[32]; x = d * q
        for (let b = 0; b < n / 32; b++, p += 34) {
            const d = halfToFloat(buf.readUInt16LE(p));
            for (let j = 0; j < 32; j++) out[b * 32 + j] = d * buf.readInt8(p + 2 + j);
        }
    } else if (t.type === GGML_Q4_0) {      // block: f16 d, u8 qs[16]; x[j] = d*((qs[j]&15)-8), x[j+16] = d*((qs[j]>>4)-8)
        for (let b = 0; b < n / 32; b++, p += 18) {
            const d = halfToFloat(buf.readUInt16LE(p));
            for (let j = 0; j < 16; j++) {
                const q = buf[p + 2 + j];
                out[b * 32 + j] = d * ((q & 15) - 8);
                out[b * 32 + j + 16] = d * ((q >> 4) - 8);
            }
        }
    } else {
        throw new Error(`tensor ${t.name}: ggml type ${t.type} not supported`);
    }
    return out;
}

// Rewrites the file with every tensor stored as F32 (metadata copied verbatim, general.file_type set to 0 = ALL_F32).
export function dequantizeGguf(inPath, outPath) {
    const buf = fs.readFileSync(inPath);
    const info = parseGguf(buf);
    const kvBytes = Buffer.from(buf.subarray(info.kvStart, info.kvEnd));
    const ft = info.kv["general.file_type"];
    if (ft && ft.type === GGUF_UINT32) kvBytes.writeUInt32LE(0, ft.valueOffset - info.kvStart);
    const align = (x) => Math.ceil(x / info.alignment) * info.alignment;
    const parts = [];
    const header = Buffer.alloc(24);
    header.write("GGUF", 0, "latin1");
    header.writeUInt32LE(info.version, 4);
    header.writeBigUInt64LE(BigInt(info.tensors.length), 8);
    header.writeBigUInt64LE(BigInt(info.nKv), 16);
    parts.push(header, kvBytes);
    const datas = [];
    let offset = 0;
    for (const t of info.tensors) {
        const data = tensorToF32(buf, info, t);
        const nameBytes = Buffer.from(t.name, "utf8");
        const ti = Buffer.alloc(8 + nameBytes.length + 4 + 8 * t.dims.length + 4 + 8);
        let q = 0;
        ti.writeBigUInt64LE(BigInt(nameBytes.length), q); q += 8;
        nameBytes.copy(ti, q); q += nameBytes.length;
        ti.writeUInt32LE(t.dims.length, q); q += 4;
        for (const d of t.dims) { ti.writeBigUInt64LE(BigInt(d), q); q += 8; }
        ti.writeUInt32LE(GGML_F32, q); q += 4;
        ti.writeBigUInt64LE(BigInt(offset), q);
        parts.push(ti);
        datas.push({offset, bytes: Buffer.from(data.buffer, data.byteOffset, data.byteLength)});
        offset = align(offset + data.byteLength);
    }
    const headerLen = parts.reduce((a, b) => a + b.length, 0);
    const dataStart = align(headerLen);
    const out = Buffer.alloc(dataStart + offset);
    let w = 0;
    for (const part of parts) { part.copy(out, w); w += part.length; }
    for (const d of datas) d.bytes.copy(out, dataStart + d.offset);
    fs.writeFileSync(outPath, out);
}

// Checks the dequantizer against ggml's own decoding stored in quant-vectors.gguf.
function check(path) {
    const buf = fs.readFileSync(path);
    const info = parseGguf(buf);
    const byName = Object.fromEntries(info.tensors.map((t) => [t.name, t]));
    let bad = 0;
    for (const type of ["f16", "q8_0", "q4_0"]) {
        const got = tensorToF32(buf, info, byName[`${type}.quantized`]);
        const want = tensorToF32(buf, info, byName[`${type}.dequantized`]);
        let diff = 0;
        for (let i = 0; i < want.length; i++) if (got[i] !== want[i] && !(Number.isNaN(got[i]) && Number.isNaN(want[i]))) diff++;
        console.log(`${type}: ${want.length} values, ${diff} differ from ggml's dequantization`);
        bad += diff;
    }
    process.exit(bad ? 1 : 0);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === fs.realpathSync(process.argv[1])) {
    const a = process.argv.slice(2);
    if (a[0] === "--check") check(a[1]);
    else if (a.length === 2) dequantizeGguf(a[0], a[1]);
    else { console.error("usage: node dequant-gguf.mjs IN.gguf OUT.gguf | --check quant-vectors.gguf"); process.exit(2); }
}

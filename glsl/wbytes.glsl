// Byte-level reads from the weight arena `wb` (declared by the includer as
// `uint wb[]`). GGUF blocks of 18, 22, 34, 110 or 210 bytes leave rows
// only 2-byte aligned, so every multi-byte read below takes a byte address
// and accepts any even one (those named _a4: any multiple of 4); u8 reads
// accept any address. Little-endian, like the file.

uint wb_u8(uint b) { return (wb[b >> 2] >> ((b & 3u) << 3)) & 0xFFu; }

int wb_s8(uint b) { return bitfieldExtract(int(wb[b >> 2]), int((b & 3u) << 3), 8); }

uint wb_u16(uint b) { return (wb[b >> 2] >> ((b & 2u) << 3)) & 0xFFFFu; }

float wb_f16(uint b) { return unpackHalf2x16(wb_u16(b)).x; }

// The 4 bytes at the even byte address b.
uint wb_u32(uint b)
{
    uint i = b >> 2;
    if ((b & 2u) == 0u) return wb[i];
    return (wb[i] >> 16) | (wb[i + 1u] << 16);
}

// The 16 bytes at the even byte address b, as 4 words. When b is 2 mod 4,
// each word straddles two aligned words: shift them together.
uvec4 wb_load16(uint b)
{
    uint i = b >> 2;
    uvec4 lo = uvec4(wb[i], wb[i + 1u], wb[i + 2u], wb[i + 3u]);
    if ((b & 2u) == 0u) return lo;
    uvec4 hi = uvec4(lo.yzw, wb[i + 4u]);
    return (lo >> 16) | (hi << 16);
}

// The 16 bytes at byte address b, a multiple of 4.
uvec4 wb_load16_a4(uint b)
{
    uint i = b >> 2;
    return uvec4(wb[i], wb[i + 1u], wb[i + 2u], wb[i + 3u]);
}

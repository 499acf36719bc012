// Byte-level reads from the weight arena `wb` (declared by the includer as
// `uint wb[]`). GGUF blocks of 18, 34 or 210 bytes leave most blocks only
// 2-byte aligned, so every multi-byte read below takes a byte address and
// accepts any even one; u8 reads accept any address. Little-endian, like
// the file.

uint wb_u8(uint b) { return (wb[b >> 2] >> ((b & 3u) << 3)) & 0xFFu; }

int wb_s8(uint b) { return bitfieldExtract(int(wb[b >> 2]), int((b & 3u) << 3), 8); }

uint wb_u16(uint b) { return (wb[b >> 2] >> ((b & 2u) << 3)) & 0xFFFFu; }

float wb_f16(uint b) { return unpackHalf2x16(wb_u16(b)).x; }

// n consecutive 32-bit words starting at the even byte address b. When b
// is 2 mod 4, each word straddles two aligned words: shift them together.
void wb_load4(uint b, out uint q[4])
{
    uint i = b >> 2;
    if ((b & 2u) == 0u) {
        for (uint k = 0u; k < 4u; k++) q[k] = wb[i + k];
    } else {
        uint lo = wb[i];
        for (uint k = 0u; k < 4u; k++) {
            uint hi = wb[i + k + 1u];
            q[k] = (lo >> 16) | (hi << 16);
            lo = hi;
        }
    }
}

void wb_load8(uint b, out uint q[8])
{
    uint i = b >> 2;
    if ((b & 2u) == 0u) {
        for (uint k = 0u; k < 8u; k++) q[k] = wb[i + k];
    } else {
        uint lo = wb[i];
        for (uint k = 0u; k < 8u; k++) {
            uint hi = wb[i + k + 1u];
            q[k] = (lo >> 16) | (hi << 16);
            lo = hi;
        }
    }
}

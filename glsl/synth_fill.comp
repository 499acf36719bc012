// Random but valid weights for synthetic models, written on the GPU.
// One invocation writes one 32-bit word of a tensor in its block format:
// bytes that belong to a block's f16 scale fields get a finite small half,
// every other byte is a hash, so any quantized value is legal.
// Defines from the host: WG_SIZE; BLOCK_BYTES; SCALE_A, SCALE_B (byte
// offsets of f16 scales inside a block, -1 when absent); ALL_HALF (every
// 2 bytes is an f16, for F16) or ALL_FLOAT (F32); SOA_QBYTES (quant bytes
// a block) when rows hold all quants, then all scales (gpu_repack.h).
layout(local_size_x = WG_SIZE) in;

layout(std430, binding = 0) writeonly buffer Dst { uint words[]; };

uniform uint n_words;
uniform uint seed;
uniform uint first_word;  // grid-stride window start (dispatch count limits)
uniform uint row_bytes;   // the fill starts at a row (SOA_QBYTES layout)

uint hash(uint x)
{
    // PCG output permutation (O'Neill 2014): cheap and well mixed.
    uint state = x * 747796405u + 2891336453u;
    uint word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    return (word >> 22u) ^ word;
}

float unit(uint h) { return float(h >> 8) * (1.0 / 16777216.0); } // [0, 1)

uint scale_half(uint block)
{
    // Scales in [0.0005, 0.0045): the range real checkpoints quantize to.
    float s = 0.0005 + 0.004 * unit(hash(block ^ (seed * 0x9E3779B9u)));
    return packHalf2x16(vec2(s, 0.0)) & 0xFFFFu;
}

// Which f16 scale field (0 or 1) holds byte `off` of a block, and which of
// its two bytes; -1 when the byte is quantized data.
int scale_field(int off)
{
    if (SCALE_A >= 0 && (off == SCALE_A || off == SCALE_A + 1)) return 0;
    if (SCALE_B >= 0 && (off == SCALE_B || off == SCALE_B + 1)) return 1;
    return -1;
}

uint byte_at(uint b)
{
#ifdef SOA_QBYTES
    uint row = b / row_bytes, off_r = b - row * row_bytes;
    uint nb = row_bytes / uint(BLOCK_BYTES), qend = nb * uint(SOA_QBYTES);
    if (off_r < qend) return hash(b ^ seed) & 0xFFu;
    uint scale = scale_half((row * nb + (off_r - qend) / 2u) * 2u);
    return ((off_r - qend) & 1u) == 0u ? (scale & 0xFFu) : (scale >> 8);
#else
    uint block = b / uint(BLOCK_BYTES);
    int off = int(b % uint(BLOCK_BYTES));
    int field = scale_field(off);
    if (field < 0) return hash(b ^ seed) & 0xFFu;
    int start = field == 0 ? SCALE_A : SCALE_B;
    uint half_bits = scale_half(block * 2u + uint(field));
    return off == start ? (half_bits & 0xFFu) : (half_bits >> 8);
#endif
}

void main()
{
    uint w = first_word + gl_GlobalInvocationID.x;
    if (w >= n_words) return;
    uint h = hash(w ^ (seed * 0x85EBCA6Bu));
#if defined(ALL_FLOAT)
    words[w] = floatBitsToUint(unit(h) * 0.1 - 0.05);
#elif defined(ALL_HALF)
    words[w] = packHalf2x16(vec2(unit(h), unit(hash(h))) * 0.1 - 0.05);
#else
    uint b = w * 4u;
    words[w] = byte_at(b) | (byte_at(b + 1u) << 8) | (byte_at(b + 2u) << 16) | (byte_at(b + 3u) << 24);
#endif
}

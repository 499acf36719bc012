// Random but valid weights for synthetic models, written on the GPU.
// One invocation writes one 32-bit word of a tensor in its GPU layout:
// bytes that belong to a block's f16 scale fields get a finite small half,
// every other byte is a hash, so any quantized value is legal.
// Defines from the host (synth_fill.c, from gpu_types.c's table): WG_SIZE;
// ALL_FLOAT (F32), ALL_HALF (F16) or ALL_BF16 (BF16); else BLOCK_BYTES,
// SCALE_A, SCALE_B (byte offsets of f16 fields inside a GGUF block, -1 when
// absent) and N_FIELDS, FIELD_SRC, FIELD_SIZE: the GPU row holds bytes
// [src, src + size) of every block for each field in turn (none: blocks as
// in the file; gpu_repack.h).
layout(local_size_x = WG_SIZE) in;

layout(std430, binding = 0) writeonly buffer Dst { uint words[]; };

uniform uint n_words;
uniform uint seed;
uniform uint first_word;  // grid-stride window start (dispatch count limits)
uniform uint row_bytes;   // the fill starts at a row (repacked layouts)

uint hash(uint x)
{
    // PCG output permutation (O'Neill 2014): cheap and well mixed.
    uint state = x * 747796405u + 2891336453u;
    uint word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    return (word >> 22u) ^ word;
}

float unit(uint h) { return float(h >> 8) * (1.0 / 16777216.0); } // [0, 1)

#ifdef BLOCK_BYTES
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

#if N_FIELDS > 0
const int field_src[N_FIELDS] = int[N_FIELDS](FIELD_SRC);
const int field_size[N_FIELDS] = int[N_FIELDS](FIELD_SIZE);
#endif

// The block and the GGUF block offset of byte b of the GPU layout.
void locate(uint b, out uint block, out int off)
{
#if N_FIELDS > 0
    uint row = b / row_bytes, r = b - row * row_bytes, nb = row_bytes / uint(BLOCK_BYTES);
    block = row * nb;
    off = 0;
    for (int f = 0; f < N_FIELDS; f++) {
        uint span = nb * uint(field_size[f]);
        if (r < span) {
            block += r / uint(field_size[f]);
            off = field_src[f] + int(r % uint(field_size[f]));
            return;
        }
        r -= span;
    }
#else
    block = b / uint(BLOCK_BYTES);
    off = int(b % uint(BLOCK_BYTES));
#endif
}

uint byte_at(uint b)
{
    uint block;
    int off;
    locate(b, block, off);
    int field = scale_field(off);
    if (field < 0) return hash(b ^ seed) & 0xFFu;
    int start = field == 0 ? SCALE_A : SCALE_B;
    uint half_bits = scale_half(block * 2u + uint(field));
    return off == start ? (half_bits & 0xFFu) : (half_bits >> 8);
}
#endif

void main()
{
    uint w = first_word + gl_GlobalInvocationID.x;
    if (w >= n_words) return;
    uint h = hash(w ^ (seed * 0x85EBCA6Bu));
#if defined(ALL_FLOAT)
    words[w] = floatBitsToUint(unit(h) * 0.1 - 0.05);
#elif defined(ALL_HALF)
    words[w] = packHalf2x16(vec2(unit(h), unit(hash(h))) * 0.1 - 0.05);
#elif defined(ALL_BF16)
    // bfloat16 is the top half of a float (truncated: any bits are valid).
    uvec2 f = floatBitsToUint(vec2(unit(h), unit(hash(h))) * 0.1 - 0.05);
    words[w] = (f.x >> 16) | (f.y & 0xFFFF0000u);
#else
    uint b = w * 4u;
    words[w] = byte_at(b) | (byte_at(b + 1u) << 8) | (byte_at(b + 2u) << 16) | (byte_at(b + 3u) << 24);
#endif
}

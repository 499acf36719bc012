// RoPE (Su et al. 2021). The host writes cos and sin of every rotated pair
// j (theta_j = pos * base^(-2j/n_rot)) for the current position into
// act[cs + 2j], act[cs + 2j + 1], computed on the CPU exactly as the
// reference does: GPU sin/cos of angles in the thousands of radians are not
// accurate enough. A pair (first, second) is (v[2j], v[2j+1]) for
// PDVM_ROPE_NORM and (v[j], v[j + n_rot/2]) for PDVM_ROPE_NEOX.
// The includer defines N_ROT, ROPE_NEOX (0 or 1) and declares `float act[]`.

// Rotated pair index of head-local dimension d (< N_ROT) and whether d is
// the first element of its pair.
uint rope_pair_index(uint d)
{
#if ROPE_NEOX
    return d % uint(N_ROT / 2);
#else
    return d >> 1;
#endif
}

bool rope_is_first(uint d)
{
#if ROPE_NEOX
    return d < uint(N_ROT / 2);
#else
    return (d & 1u) == 0u;
#endif
}

// Head-local dimension of the other element of d's pair.
uint rope_partner(uint d)
{
#if ROPE_NEOX
    return rope_is_first(d) ? d + uint(N_ROT / 2) : d - uint(N_ROT / 2);
#else
    return d ^ 1u;
#endif
}

// Rotate (first, second) of pair j.
vec2 rope_rotate(uint cs, uint j, float first, float second)
{
    float c = act[cs + 2u * j];
    float s = act[cs + 2u * j + 1u];
    return vec2(first * c - second * s, first * s + second * c);
}

// New value of dimension d given its own value and its partner's.
float rope_apply(uint cs, uint d, float self, float partner)
{
    if (d >= uint(N_ROT)) return self;
    bool first = rope_is_first(d);
    vec2 r = rope_rotate(cs, rope_pair_index(d), first ? self : partner, first ? partner : self);
    return first ? r.x : r.y;
}

// Rotated dimension d of the unrotated head vector at act[head] (its
// partner read from the same vector): for kernels that read a head without
// rotating it in place.
float rope_head_dim(uint cs, uint head, uint d)
{
    if (d >= uint(N_ROT)) return act[head + d];
    return rope_apply(cs, d, act[head + d], act[head + rope_partner(d)]);
}

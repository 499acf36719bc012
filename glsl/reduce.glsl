// Workgroup-wide float reductions: wg_reduce_sum(v) and wg_reduce_max(v)
// return the sum / max of v over all WG_SIZE invocations, to every one.
// The includer defines WG_SIZE (a power of two, <= the driver's invocation
// limit) and calls these from uniform control flow only (they contain
// barriers). With PDVM_SUBGROUP (set by the runtime when the driver has
// GL_KHR_shader_subgroup arithmetic in compute) each subgroup reduces in
// registers first and shared memory holds one value per subgroup; without
// it a shared-memory tree of WG_SIZE floats is used (fits the 16 KiB floor
// up to 4096 invocations).

#if defined(PDVM_SUBGROUP)
#define RED_SLOTS ((WG_SIZE + PDVM_SUBGROUP_SIZE - 1) / PDVM_SUBGROUP_SIZE)
shared float red_slots[RED_SLOTS];

float red_combine_slots(float v, bool is_max)
{
    if (RED_SLOTS == 1) return v;
    if (subgroupElect()) red_slots[gl_SubgroupID] = v;
    memoryBarrierShared();
    barrier();
    float t = red_slots[0];
    for (uint i = 1u; i < gl_NumSubgroups; i++)
        t = is_max ? max(t, red_slots[i]) : t + red_slots[i];
    barrier(); // all have read before a later call overwrites the slots
    return t;
}

float wg_reduce_sum(float v) { return red_combine_slots(subgroupAdd(v), false); }
float wg_reduce_max(float v) { return red_combine_slots(subgroupMax(v), true); }

#else
shared float red_tree[WG_SIZE];

float red_tree_reduce(float v, bool is_max)
{
    uint lid = gl_LocalInvocationIndex;
    red_tree[lid] = v;
    memoryBarrierShared();
    barrier();
    for (uint s = uint(WG_SIZE) / 2u; s > 0u; s >>= 1u) {
        if (lid < s)
            red_tree[lid] = is_max ? max(red_tree[lid], red_tree[lid + s])
                                   : red_tree[lid] + red_tree[lid + s];
        memoryBarrierShared();
        barrier();
    }
    float t = red_tree[0];
    barrier();
    return t;
}

float wg_reduce_sum(float v) { return red_tree_reduce(v, false); }
float wg_reduce_max(float v) { return red_tree_reduce(v, true); }
#endif

// Row-parallel matrix-vector layout shared by matvec.comp and qkv.comp.
// A workgroup splits into ROW_GROUPS groups of TPR invocations; each group
// computes ROWS_G rows at once (several rows' loads in flight), its lanes
// striding over the rows' 32-element segments. A group's partial sums are
// then reduced within the group: with subgroup arithmetic (PDVM_SUBGROUP,
// set by the runtime) a group is one subgroup and subgroupAdd needs no
// barrier; otherwise a shared-memory tree over the group's TPR slots, all
// rows of all groups in log2(TPR) barrier steps.
// The includer defines WG_SIZE, ROWS_G and TPR_SHARED (lanes per group on
// the shared-memory path: a power of two dividing WG_SIZE), and calls
// rows_reduce from uniform control flow.

#define ROWS_SUBGROUP 0
#if defined(PDVM_SUBGROUP)
#if (WG_SIZE % PDVM_SUBGROUP_SIZE) == 0
#undef ROWS_SUBGROUP
#define ROWS_SUBGROUP 1
#endif
#endif

#if ROWS_SUBGROUP
#define TPR PDVM_SUBGROUP_SIZE
#define ROW_LANE gl_SubgroupInvocationID
#define ROW_GROUP gl_SubgroupID
#else
#define TPR TPR_SHARED
#define ROW_LANE (gl_LocalInvocationIndex % uint(TPR))
#define ROW_GROUP (gl_LocalInvocationIndex / uint(TPR))
shared float rows_red[ROWS_G * WG_SIZE];
#endif
#define ROW_GROUPS (WG_SIZE / TPR)
#define RPW (ROW_GROUPS * ROWS_G)

// On return, lane 0 of each group holds its rows' totals in acc.
void rows_reduce(inout float acc[ROWS_G])
{
#if ROWS_SUBGROUP
    for (uint j = 0u; j < uint(ROWS_G); j++) acc[j] = subgroupAdd(acc[j]);
#else
    uint t = gl_LocalInvocationIndex;
    for (uint j = 0u; j < uint(ROWS_G); j++) rows_red[j * uint(WG_SIZE) + t] = acc[j];
    for (uint s = uint(TPR) / 2u; s > 0u; s >>= 1u) {
        memoryBarrierShared();
        barrier();
        if (ROW_LANE < s)
            for (uint j = 0u; j < uint(ROWS_G); j++)
                rows_red[j * uint(WG_SIZE) + t] += rows_red[j * uint(WG_SIZE) + t + s];
    }
    memoryBarrierShared();
    barrier();
    for (uint j = 0u; j < uint(ROWS_G); j++) acc[j] = rows_red[j * uint(WG_SIZE) + t];
    memoryBarrierShared();
    barrier(); // read before a later call writes
#endif
}

// Workgroup sum through shared memory for a power-of-two WG_SIZE (pick it
// with pdvm_gl_wg_size(gl, want, 4)). Every invocation of the workgroup
// must call it, in uniform control flow: it contains barriers.
shared uint rt_partial[WG_SIZE];

uint rt_workgroup_sum_u32(uint v)
{
    uint lid = gl_LocalInvocationID.x;
    rt_partial[lid] = v;
    memoryBarrierShared();
    barrier();
    for (uint s = uint(WG_SIZE) / 2u; s > 0u; s >>= 1u) {
        if (lid < s) rt_partial[lid] += rt_partial[lid + s];
        memoryBarrierShared();
        barrier();
    }
    uint total = rt_partial[0];
    barrier(); // everyone has read it before a second call overwrites it
    return total;
}

// Workgroup reductions for the model kernels: reduce.glsl's, followed by a
// shared-memory barrier. reduce.glsl reads its result from shared memory
// and then waits at a barrier() with no memoryBarrierShared() before it, so
// a compiler may sink that read past the barrier, after which a faster
// invocation's next reduction can overwrite the slot (llvmpipe does this:
// attention's max then sum gave wrong sums). The barrier here pins the read
// before any invocation can start another reduction. Same rules as
// reduce.glsl: WG_SIZE a power of two, uniform control flow.

#include "reduce.glsl"

float wg_sum(float v)
{
    float r = wg_reduce_sum(v);
    memoryBarrierShared();
    barrier();
    return r;
}

float wg_max(float v)
{
    float r = wg_reduce_max(v);
    memoryBarrierShared();
    barrier();
    return r;
}

// Exact per-workgroup sums of n uints (the runtime's reduction test): each
// workgroup strides over the whole array, then reduces in shared memory.
// Defines: WG_SIZE (a power of two).
#include "rt_reduce.glsl"

layout(local_size_x = WG_SIZE) in;

layout(std430, binding = 0) readonly buffer X { uint x[]; };
layout(std430, binding = 1) writeonly buffer Sums { uint sums[]; };

uniform uint n;

void main()
{
    uint stride = gl_NumWorkGroups.x * uint(WG_SIZE);
    uint acc = 0u;
    for (uint i = gl_GlobalInvocationID.x; i < n; i += stride) acc += x[i];
    uint total = rt_workgroup_sum_u32(acc);
    if (gl_LocalInvocationID.x == 0u) sums[gl_WorkGroupID.x] = total;
}

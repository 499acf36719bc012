// Latency of a dependent dispatch: each one adds 1 to what the previous
// one wrote, so the count at the end also proves the barriers work.
layout(local_size_x = 1) in;

layout(std430, binding = 0) buffer Chain { uint steps; };

void main() { steps += 1u; }

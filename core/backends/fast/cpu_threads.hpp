#pragma once
// Thread count of the CPU math libraries (oneDNN runs on OpenMP, OpenBLAS on its own pool).

namespace synclab::fast {

/// Resolves threads <= 0 to the number of cores.
int resolve_cpu_threads(int threads);

/// Makes oneDNN (OpenMP, for the calling thread) and OpenBLAS (process-wide) use `threads`.
void use_cpu_threads(int threads);

}  // namespace synclab::fast

#include "core/backends/fast/cpu_threads.hpp"

#include <cblas.h>
#include <omp.h>

namespace synclab::fast {

int resolve_cpu_threads(int threads) { return threads > 0 ? threads : omp_get_num_procs(); }

void use_cpu_threads(int threads) {
  // omp_set_num_threads only affects the calling thread's OpenMP regions, which is what
  // oneDNN reads when it executes a primitive; OpenBLAS has one global setting, so it is
  // changed only when it differs (it resizes a thread pool).
  if (omp_get_max_threads() != threads) omp_set_num_threads(threads);
  if (openblas_get_num_threads() != threads) openblas_set_num_threads(threads);
}

}  // namespace synclab::fast

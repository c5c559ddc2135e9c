#include "agent/heap_trim.h"

#include <malloc.h>

namespace ipfence::agent {

void fix_malloc_thresholds() {
#if defined(__GLIBC__)
  // Setting either one turns the dynamic adjustment of both off; set both so that neither
  // depends on that rule.
  constexpr int kThreshold = 128 * 1024;
  mallopt(M_MMAP_THRESHOLD, kThreshold);
  mallopt(M_TRIM_THRESHOLD, kThreshold);
#endif
}

void return_free_heap() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

}  // namespace ipfence::agent

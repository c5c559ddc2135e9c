#include "agent/heap_trim.h"

#include <malloc.h>

namespace ipfence::agent {

void return_free_heap() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

}  // namespace ipfence::agent

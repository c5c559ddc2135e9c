#include "agent/heap_trim.h"

#include <gtest/gtest.h>
#include <malloc.h>

#include <cstdlib>
#include <cstring>

namespace ipfence::agent {
namespace {

#if defined(__GLIBC__)
// Bytes held in mmapped blocks now.
std::size_t mmapped_bytes() {
  return mallinfo2().hblkhd;
}

void* touched_block(std::size_t size) {
  void* block = std::malloc(size);
  if (block != nullptr) std::memset(block, 1, size);
  asm volatile("" : : "r"(block) : "memory");  // or the compiler drops a malloc/free pair
  return block;
}

// glibc's default would raise the mmap threshold to 8 MB once an 8 MB block is freed, and
// put the next 2 MB block in the heap, where it stays after free() (what made the agent
// keep 10 MB of a thread's arena).
TEST(FixMallocThresholds, LargeBlocksStayMmappedAfterALargerOneWasFreed) {
  fix_malloc_thresholds();
  std::free(touched_block(8 << 20));
  const std::size_t before = mmapped_bytes();
  void* later = touched_block(2 << 20);
  ASSERT_NE(later, nullptr);
  const std::size_t during = mmapped_bytes();
  std::free(later);
  EXPECT_GE(during - before, std::size_t{2} << 20) << "the 2 MB block came from the heap";
  EXPECT_EQ(mmapped_bytes(), before) << "freeing it did not give it back";
}
#endif

}  // namespace
}  // namespace ipfence::agent

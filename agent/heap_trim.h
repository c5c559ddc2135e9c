// Gives the heap's free memory back to the OS. glibc keeps what a large transient freed (the
// full store list a resync reads, the view it replaces, the guard's snapshot) in its arenas,
// where it still counts in the agent's RSS; the agent calls this after those, which are rare
// (start-up, a rebuilt view), so the cost of a pass over the heap does not matter.
#pragma once

namespace ipfence::agent {

void return_free_heap();

}  // namespace ipfence::agent

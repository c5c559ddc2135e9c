// Compile-time checks of the pod socket-option guard's part of bpf/abi.h (as abi_checks.cpp
// does for the guard's): the sizes and offsets below are the ones the BPF object uses.
#include <cstddef>

#include "bpf/abi.h"

static_assert(sizeof(struct ipf_sockopt_netns) == 8, "ipf_sockopt_netns size");
static_assert(offsetof(struct ipf_sockopt_netns, mode) == 0, "ipf_sockopt_netns.mode offset");
static_assert(IPF_SOCKOPT_CTR_COUNT ==
                  static_cast<int>(IPF_VERDICT_COUNT) * IPF_SOCKOPT_OPTION_COUNT,
              "ipf_sockopt_cnt slots");

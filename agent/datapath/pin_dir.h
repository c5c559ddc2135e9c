// The pin dir every BPF object of the agent (guard, watcher, socket-option guard) pins its
// maps and links under, and the libbpf open options that make its skeletons use it.
#pragma once

#include <bpf/libbpf.h>

#include <string>

#include "ipam/result.h"

namespace ipfence::datapath {

// Checks that `dir` is on bpffs (on its closest existing ancestor, so that a missing mount
// gives that hint rather than mkdir's EPERM from sysfs), then creates it.
Status prepare_pin_dir(const std::string& dir);

// Open options pinning under `pin_dir`; empty: nothing is pinned by path. `pin_dir` must
// outlive the options.
bpf_object_open_opts pinned_open_opts(const std::string& pin_dir);

}  // namespace ipfence::datapath

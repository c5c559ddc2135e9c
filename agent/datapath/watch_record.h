// The watcher's ring-buffer record (bpf/abi.h struct ipf_watch_event) as a WatchEvent. Kept
// apart from the reader so that the decoding rules can be tested without BPF.
#pragma once

#include <cstddef>

#include "agent/datapath/watch_event.h"
#include "ipam/result.h"

namespace ipfence::datapath {

// Decodes one record. `master` is left empty: names belong to the Watcher's attachments.
// A record of the wrong size, an unknown kind or family is ErrorCode::corrupt (a BPF object
// of another ABI wrote it); nothing else is checked, the kernel side wrote what it parsed.
Result<WatchEvent> decode_watch_record(const void* data, std::size_t size);

}  // namespace ipfence::datapath

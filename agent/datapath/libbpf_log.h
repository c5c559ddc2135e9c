// Where libbpf's messages go. libbpf reports through one process-wide print callback: why a
// load failed (the verifier log), and netlink's "Kernel error message" for every TC call that
// fails, including the expected ones (no filter yet, clsact already there). While a
// LibbpfCapture is alive on a thread, that thread's messages are kept for the caller to put
// into its error; otherwise warnings go to stderr as with libbpf's default printer.
#pragma once

#include <string>

#include "ipam/result.h"

namespace ipfence::datapath {

class LibbpfCapture {
 public:
  LibbpfCapture();
  ~LibbpfCapture();
  LibbpfCapture(const LibbpfCapture&) = delete;
  LibbpfCapture& operator=(const LibbpfCapture&) = delete;

  // The last few thousand characters (a verifier's verdict is at the end of its log).
  std::string tail() const;

 private:
  std::string text_;
  std::string* previous_;  // captures nest: the inner one wins until it ends
};

// `error` followed by what libbpf said while `log` was capturing (if anything).
Error with_log(Error error, const LibbpfCapture& log);

}  // namespace ipfence::datapath

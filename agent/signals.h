// SIGTERM and SIGINT, read from a signalfd instead of handled: no code runs in signal
// context, and the main thread decides when and how to stop.
#pragma once

#include "agent/unique_fd.h"

namespace ipfence::agent {

class ShutdownSignals {
 public:
  // Blocks SIGTERM and SIGINT in the calling thread and ignores SIGPIPE. Call it before any
  // thread starts: threads inherit the mask, so the signals reach only the signalfd.
  // Throws std::system_error (start-up only).
  static ShutdownSignals install();

  // Waits for SIGTERM or SIGINT and returns its number.
  int wait();

 private:
  explicit ShutdownSignals(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

}  // namespace ipfence::agent

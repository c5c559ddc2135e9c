// The one Allocator of the agent behind one mutex: HTTP requests and the store watcher take
// turns on it (the store arbitrates between nodes anyway; in-process, a lock is simpler and
// cheaper than optimistic retries). Also remembers whether the last store call worked, for
// /v1/status.
#pragma once

#include <mutex>
#include <string>
#include <utility>

#include "ipam/allocator.h"
#include "ipam/result.h"

namespace ipfence::agent {

// Errors that mean the store itself failed, as opposed to an answer about the request
// (exhausted, not_found, ...), which proves the store works.
inline bool is_store_failure(ErrorCode code) {
  return code == ErrorCode::io || code == ErrorCode::unavailable || code == ErrorCode::corrupt;
}

class StoreHealth {
 public:
  struct Snapshot {
    bool healthy = true;
    std::string last_error;  // the latest store failure, kept after recovery ("" = none)
  };

  void record(const Error* error) {
    std::lock_guard lock(mu_);
    if (error != nullptr && is_store_failure(error->code)) {
      snapshot_.healthy = false;
      snapshot_.last_error = error->message;
    } else {
      snapshot_.healthy = true;
    }
  }
  template <typename T>
  void record(const Result<T>& result) {
    record(result.ok() ? nullptr : &result.error());
  }
  Snapshot snapshot() const {
    std::lock_guard lock(mu_);
    return snapshot_;
  }

 private:
  mutable std::mutex mu_;
  Snapshot snapshot_;
};

class SharedAllocator {
 public:
  explicit SharedAllocator(ipam::Allocator& allocator) : allocator_(allocator) {}

  // Runs fn(allocator) with the lock held and returns what it returns.
  template <typename Fn>
  decltype(auto) with(Fn&& fn) {
    std::lock_guard lock(mu_);
    return std::forward<Fn>(fn)(allocator_);
  }

  StoreHealth& health() { return health_; }

 private:
  std::mutex mu_;
  ipam::Allocator& allocator_;
  StoreHealth health_;
};

}  // namespace ipfence::agent

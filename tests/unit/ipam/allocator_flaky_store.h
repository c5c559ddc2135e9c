// A Store wrapper for allocator tests that fails the way a network store does: a commit that
// applies and then reports a transport error (the answer was lost), a commit that fails
// before it reaches the store, reads that fail while the store is "down", and a watch that
// falls behind (delivers nothing until resumed). Everything else goes to the inner store.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "ipam/store/store.h"

namespace ipfence::ipam::testing {

class FlakyStore final : public store::Store {
 public:
  enum class Commit { normal, apply_then_fail, fail_before_apply };

  explicit FlakyStore(store::Store& inner) : inner_(inner) {}

  // What the next commit does (then back to normal), or every commit while `sticky`.
  void next_commit(Commit mode, bool sticky = false) {
    std::lock_guard lock(mu_);
    mode_ = mode;
    sticky_ = sticky;
  }
  void set_reads_fail(bool fail) { reads_fail_ = fail; }
  // A paused watch returns no events; resuming delivers what it held back, in order.
  void set_watch_paused(bool paused) { watch_paused_->store(paused); }
  int commits() const { return commits_; }

  Result<std::optional<store::KeyValue>> get(const std::string& key) override {
    if (reads_fail_) return down("get " + key);
    return inner_.get(key);
  }
  Result<store::ListResult> list(const std::string& prefix) override {
    if (reads_fail_) return down("list " + prefix);
    return inner_.list(prefix);
  }
  Result<store::TxnResult> commit(const store::Txn& txn) override {
    ++commits_;
    Commit mode;
    {
      std::lock_guard lock(mu_);
      mode = mode_;
      if (!sticky_) mode_ = Commit::normal;
    }
    if (mode == Commit::fail_before_apply) return down("txn (not sent)");
    auto result = inner_.commit(txn);
    if (mode == Commit::apply_then_fail && result.ok())
      return down(
          "txn: the connection broke after the request was sent; it may or may not "
          "have been applied");
    return result;
  }
  Result<std::unique_ptr<store::Watch>> watch(const std::string& prefix,
                                              std::int64_t after_revision) override {
    IPF_ASSIGN_OR_RETURN(auto inner, inner_.watch(prefix, after_revision));
    return std::unique_ptr<store::Watch>(new PausableWatch(std::move(inner), watch_paused_));
  }
  std::string describe() const override { return "flaky+" + inner_.describe(); }

 private:
  class PausableWatch final : public store::Watch {
   public:
    PausableWatch(std::unique_ptr<store::Watch> inner, std::shared_ptr<std::atomic<bool>> paused)
        : inner_(std::move(inner)), paused_(std::move(paused)) {}
    Result<std::vector<store::Event>> next(std::chrono::milliseconds timeout) override {
      if (paused_->load()) return std::vector<store::Event>{};
      return inner_->next(timeout);
    }

   private:
    std::unique_ptr<store::Watch> inner_;
    std::shared_ptr<std::atomic<bool>> paused_;
  };

  static Error down(const std::string& what) {
    return make_error(ErrorCode::unavailable, "flaky store unreachable (" + what + ")");
  }

  store::Store& inner_;
  std::mutex mu_;
  Commit mode_ = Commit::normal;
  bool sticky_ = false;
  std::atomic<bool> reads_fail_{false};
  std::atomic<int> commits_{0};
  std::shared_ptr<std::atomic<bool>> watch_paused_ = std::make_shared<std::atomic<bool>>(false);
};

}  // namespace ipfence::ipam::testing

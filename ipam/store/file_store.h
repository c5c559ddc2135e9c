// The embedded default store: a directory (default /var/lib/ipfence) that several processes
// may use at once, crash-safe at every step.
//
//   snapshot.json  every key at some revision R, replaced atomically (temp, fsync, rename,
//                  fsync directory)
//   wal            header with a start revision S <= R, then one checksummed record per
//                  committed transaction S+1, S+2, ...; commit() returns only after its
//                  record is appended and fdatasync'ed
//   lock           flock: writers exclusive, readers shared
//
// Every call first catches up on records that other processes appended (a stat of the log
// tells whether there are any), so a commit anywhere is visible to the next call everywhere.
// A torn final record is a write that crashed before commit() returned: the next writer cuts
// it off. Any other damage is ErrorCode::corrupt naming the file; nothing is ever reset.
//
// When the log holds `compact_after_records` records, the committer writes a snapshot at R
// and atomically replaces the log by one starting at R - keep_records that holds the last
// records again; history (for watches) reaches back to the log's start revision, which is
// therefore the compacted revision every process agrees on.
//
// In memory each process keeps an index: every key with its revisions and where its value's
// JSON text lies (snapshot or log: offset and length). Reads fetch and decode values from the
// files; watches read history back from the log's records. A file that another process
// replaces stays open while the index points into it, so a rename never changes what is read.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>

#include "ipam/store/file_io.h"
#include "ipam/store/store.h"

namespace ipfence::store {

struct FileStoreOptions {
  std::int64_t compact_after_records = 10000;
  // Kept across a rotation, so a watcher a little behind does not have to list again.
  std::int64_t keep_records = 1000;
  // How often a watch looks for commits of other processes (commits of this instance
  // wake it at once).
  std::chrono::milliseconds watch_poll_interval{20};
  // Told about repairs (a torn final record cut off) and about failures that do not fail
  // the call (a rotation after a durable commit). Default: stderr.
  std::function<void(std::string_view message)> log;
  // Tests only: called at named points of the write path (see file_store.cpp).
  CrashHook crash_hook;
};

class FileStore final : public Store {
 public:
  using Options = FileStoreOptions;

  // Creates the directory (0700) and files (0600) when missing. Stores opened with the
  // default options share one in-memory mirror per directory within a process (each is still
  // a full Store; see file_store.cpp); with explicit options each open has its own.
  static Result<std::unique_ptr<FileStore>> open(const std::string& dir);
  static Result<std::unique_ptr<FileStore>> open(const std::string& dir, Options options);
  ~FileStore() override;

  Result<std::optional<KeyValue>> get(const std::string& key) override;
  Result<ListResult> list(const std::string& prefix) override;
  using Store::list_each;
  Result<std::int64_t> list_each(const std::vector<std::string>& prefixes,
                                 const std::function<void(const KeyValue& kv)>& each) override;
  Result<TxnResult> commit(const Txn& txn) override;
  Result<std::unique_ptr<Watch>> watch(const std::string& prefix,
                                       std::int64_t after_revision) override;
  std::string describe() const override;

  // Writes a snapshot now and starts a new log that keeps the changes after `revision`
  // (clamped to what the log holds); watches from before it get ErrorCode::compacted.
  Status compact(std::int64_t revision);

  struct Impl;

 private:
  explicit FileStore(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;  // watches hold it too, so they may outlive the store
};

static_assert(!std::is_abstract_v<FileStore>);

}  // namespace ipfence::store

#include "ipam/store/file_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <filesystem>
#include <iostream>
#include <map>
#include <mutex>

#include "ipam/store/file_format.h"
#include "ipam/store/file_json.h"
#include "ipam/store/memory_store.h"

// Crash hook points, in write order (a test kills the process at each to prove recovery):
//   wal.partial            half of a record appended        -> torn tail, dropped on open
//   wal.written            record appended, not yet synced  -> kept or lost, never half
//   wal.synced             record durable, commit() not yet returned
//   snapshot.partial/.synced/.renamed    the rotation's snapshot (file_io.h)
//   wal_reset.partial/.synced/.renamed   the rotation's new log
//   init_snapshot.*, init_wal.*          first start in an empty directory

namespace ipfence::store {

struct FileStore::Impl {
  std::string dir, wal_path, snapshot_path, lock_path;
  Options options;

  std::mutex mu;  // guards everything below; held while the flock is taken
  std::condition_variable changed;
  UniqueFd lock_fd;
  UniqueFd wal_fd;  // the log file we are reading; after another process rotates, the old one
  dev_t wal_dev = 0;
  ino_t wal_ino = 0;
  std::uint64_t wal_offset = 0;  // just after the last good record read
  std::int64_t wal_start = 0;    // start revision in wal_fd's header
  std::int64_t wal_last = 0;     // revision of the last record read (wal_start if none)
  KvState state;                 // invariant after catch-up: compact_revision() == wal_start
  std::optional<Error> broken;   // a failed append we could not undo: refuse further use

  void log(const std::string& message) const {
    if (options.log)
      options.log(message);
    else
      std::cerr << "ipfence file store: " << message << "\n";
  }
  void hook(std::string_view point) const {
    if (options.crash_hook) options.crash_hook(point);
  }

  Status initialize();
  Status open_wal(UniqueFd fd, std::string* data);
  Status load(bool exclusive);
  Status replay(std::string_view data, std::uint64_t base, bool exclusive, bool fresh);
  Status catch_up(bool exclusive);
  Status follow(bool exclusive);
  Status refresh();
  Status append(const Change& change);
  Status rotate(std::int64_t keep_after);
};

namespace {

Error wal_error(const std::string& path, std::uint64_t offset, const Error& error) {
  return corrupt_file_error(path,
                            "record at offset " + std::to_string(offset) + ": " + error.message);
}

}  // namespace

// First start, or a crash during it: create what is missing, but refuse combinations that
// mean files were lost rather than never written.
Status FileStore::Impl::initialize() {
  IPF_ASSIGN_OR_RETURN(bool have_snapshot, file_exists(snapshot_path));
  IPF_ASSIGN_OR_RETURN(bool have_wal, file_exists(wal_path));
  if (!have_snapshot && have_wal)
    return corrupt_file_error(snapshot_path, "is missing but the log exists");
  if (!have_snapshot) {
    IPF_TRY(write_file_atomic(dir, "snapshot.json", frame_snapshot(encode_snapshot(0, {})),
                              options.crash_hook, "init_snapshot"));
  }
  if (!have_wal) {
    IPF_ASSIGN_OR_RETURN(auto text, read_file(snapshot_path));
    IPF_ASSIGN_OR_RETURN(auto body, unframe_snapshot(text, snapshot_path));
    auto snapshot = decode_snapshot(body);
    if (!snapshot.ok()) return corrupt_file_error(snapshot_path, snapshot.error().message);
    if (snapshot->revision != 0)
      return corrupt_file_error(wal_path, "is missing but the snapshot is at revision " +
                                              std::to_string(snapshot->revision) +
                                              ", so committed changes may be lost");
    IPF_TRY(write_file_atomic(dir, "wal", encode_wal_header(0), options.crash_hook, "init_wal"));
  }
  // Leftovers of a crash during an atomic replacement; the originals are intact.
  ::unlink((snapshot_path + ".tmp").c_str());
  ::unlink((wal_path + ".tmp").c_str());
  return {};
}

// Makes `fd` the log we read: remembers its identity and returns its content in `data`.
Status FileStore::Impl::open_wal(UniqueFd fd, std::string* data) {
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return io_error("stat", wal_path, errno);
  IPF_ASSIGN_OR_RETURN(*data, read_from(fd.get(), wal_path, 0));
  IPF_ASSIGN_OR_RETURN(wal_start, decode_wal_header(*data, wal_path));
  wal_fd = std::move(fd);
  wal_dev = st.st_dev;
  wal_ino = st.st_ino;
  wal_offset = kWalHeaderSize;
  wal_last = wal_start;
  return {};
}

// Reads everything from scratch: the snapshot, then the whole log.
Status FileStore::Impl::load(bool exclusive) {
  IPF_ASSIGN_OR_RETURN(auto text, read_file(snapshot_path));
  IPF_ASSIGN_OR_RETURN(auto body, unframe_snapshot(text, snapshot_path));
  auto snapshot = decode_snapshot(body);
  if (!snapshot.ok()) return corrupt_file_error(snapshot_path, snapshot.error().message);

  IPF_ASSIGN_OR_RETURN(auto fd, open_file(wal_path, O_RDWR));
  std::string data;
  IPF_TRY(open_wal(std::move(fd), &data));
  if (wal_start > snapshot->revision)
    return corrupt_file_error(wal_path, "starts after revision " + std::to_string(wal_start) +
                                            " but the snapshot is at revision " +
                                            std::to_string(snapshot->revision) +
                                            ", so the changes in between are missing");
  state = KvState(std::move(snapshot->kvs), snapshot->revision);
  return replay(std::string_view(data).substr(kWalHeaderSize), kWalHeaderSize, exclusive, true);
}

// Applies the records in `data` (read from offset `base` of the current log). `fresh`: the
// state was just loaded from the snapshot, and records up to its revision rebuild history.
Status FileStore::Impl::replay(std::string_view data, std::uint64_t base, bool exclusive,
                               bool fresh) {
  IPF_ASSIGN_OR_RETURN(auto scan, scan_records(data, base, wal_path));
  std::vector<Change> older;
  bool history_restored = !fresh;
  auto restore_history = [&]() -> Status {
    history_restored = true;
    auto status = state.restore_history(wal_start, std::move(older));
    if (!status.ok()) return corrupt_file_error(wal_path, status.error().message);
    return {};
  };
  for (const auto& record : scan.records) {
    auto change = decode_change(record.body);
    if (!change.ok()) return wal_error(wal_path, record.offset, change.error());
    if (change->revision != wal_last + 1)
      return wal_error(wal_path, record.offset,
                       make_error(ErrorCode::corrupt,
                                  "revision " + std::to_string(change->revision) + " where " +
                                      std::to_string(wal_last + 1) + " was expected"));
    wal_last = change->revision;
    wal_offset = record.offset + kRecordHeaderSize + record.body.size();
    if (change->revision <= state.revision()) {
      // In the snapshot already (fresh), or read from the previous log before a rotation.
      if (fresh) older.push_back(std::move(*change));
      continue;
    }
    if (!history_restored) IPF_TRY(restore_history());
    if (auto status = state.apply(*change); !status.ok())
      return wal_error(wal_path, record.offset, status.error());
  }
  if (!history_restored) IPF_TRY(restore_history());
  if (scan.torn_bytes > 0 && exclusive) {
    // Only a writer may cut: a reader holds the shared lock alongside other readers.
    if (::ftruncate(wal_fd.get(), static_cast<off_t>(scan.end)) != 0)
      return io_error("truncate", wal_path, errno);
    IPF_TRY(sync_data(wal_fd.get(), wal_path));
    log("dropped " + std::to_string(scan.torn_bytes) + " bytes at offset " +
        std::to_string(scan.end) + " of " + wal_path +
        ": a write that a crash interrupted before it was committed");
  }
  return {};
}

// With the flock held: brings `state` up to the files.
Status FileStore::Impl::catch_up(bool exclusive) {
  if (broken) return *broken;
  auto status = follow(exclusive);
  // Damage found halfway through leaves `state` partly updated: refuse to serve it, so
  // every later call reports the damage too, until the store is reopened.
  if (!status.ok() && status.error().code == ErrorCode::corrupt) broken = status.error();
  return status;
}

Status FileStore::Impl::follow(bool exclusive) {
  struct stat st {};
  if (::stat(wal_path.c_str(), &st) != 0) {
    if (errno == ENOENT) return corrupt_file_error(wal_path, "has disappeared");
    return io_error("stat", wal_path, errno);
  }
  const bool rotated = st.st_dev != wal_dev || st.st_ino != wal_ino;
  if (!rotated && static_cast<std::uint64_t>(st.st_size) == wal_offset) return {};

  // The rest of our log. After a rotation it is complete: the rotating writer held the
  // exclusive lock from its last append to the rename.
  IPF_ASSIGN_OR_RETURN(auto tail,
                       read_from(wal_fd.get(), wal_path, static_cast<off_t>(wal_offset)));
  IPF_TRY(replay(tail, wal_offset, exclusive && !rotated, false));
  if (!rotated) return {};

  IPF_ASSIGN_OR_RETURN(auto fd, open_file(wal_path, O_RDWR));
  std::string data;
  IPF_TRY(open_wal(std::move(fd), &data));
  if (wal_start > state.revision()) return load(exclusive);  // missed more than a log holds
  IPF_TRY(replay(std::string_view(data).substr(kWalHeaderSize), kWalHeaderSize, exclusive, false));
  if (wal_last < state.revision())
    return corrupt_file_error(wal_path, "ends at revision " + std::to_string(wal_last) +
                                            " but revision " + std::to_string(state.revision()) +
                                            " was already committed");
  state.compact(wal_start);
  return {};
}

// Before a read: a stat tells whether anything changed; only then take the shared lock.
Status FileStore::Impl::refresh() {
  if (broken) return *broken;
  struct stat st {};
  if (::stat(wal_path.c_str(), &st) == 0 && st.st_dev == wal_dev && st.st_ino == wal_ino &&
      static_cast<std::uint64_t>(st.st_size) == wal_offset)
    return {};
  IPF_ASSIGN_OR_RETURN(auto lock, FileLock::acquire(lock_fd.get(), lock_path, false));
  return catch_up(false);
}

Status FileStore::Impl::append(const Change& change) {
  const std::string record = frame_record(encode_change(change));
  const auto offset = static_cast<off_t>(wal_offset);
  Status status;
  if (options.crash_hook) {
    status = write_at(wal_fd.get(), wal_path, std::string_view(record).substr(0, record.size() / 2),
                      offset);
    hook("wal.partial");
  }
  if (status.ok()) status = write_at(wal_fd.get(), wal_path, record, offset);
  if (status.ok()) hook("wal.written");
  if (status.ok()) status = sync_data(wal_fd.get(), wal_path);
  if (!status.ok()) {
    // Take the record back so that no later reader applies a change we reported as failed.
    if (::ftruncate(wal_fd.get(), offset) != 0 || ::fdatasync(wal_fd.get()) != 0)
      broken = status.error().wrap("the log may hold a partial record; reopen the store");
    return status;
  }
  hook("wal.synced");
  wal_offset += record.size();
  wal_last = change.revision;
  return {};
}

// With the exclusive lock, caught up: snapshot at the current revision, then a new log
// from `keep_after`. A crash between the two leaves an older log that still reaches the
// snapshot, which load() accepts.
Status FileStore::Impl::rotate(std::int64_t keep_after) {
  keep_after = std::clamp(keep_after, wal_start, state.revision());
  IPF_TRY(write_file_atomic(dir, "snapshot.json",
                            frame_snapshot(encode_snapshot(state.revision(), state.kvs())),
                            options.crash_hook, "snapshot"));
  std::string content = encode_wal_header(keep_after);
  for (const auto& change : state.changes_after(keep_after))
    content += frame_record(encode_change(change));
  IPF_TRY(write_file_atomic(dir, "wal", content, options.crash_hook, "wal_reset"));
  IPF_ASSIGN_OR_RETURN(auto fd, open_file(wal_path, O_RDWR));
  std::string data;
  IPF_TRY(open_wal(std::move(fd), &data));
  wal_offset = data.size();
  wal_last = state.revision();
  state.compact(keep_after);
  return {};
}

FileStore::FileStore(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
FileStore::~FileStore() = default;

namespace {

// Stores opened with the default options, by directory: one mirror per process. The agent
// opens the same store twice (the allocator, and the conflict monitor's own connection);
// with 65,536 allocations each mirror holds tens of MB, and two of them in one process would
// only ever hold the same keys. Sharing one is what another process would see anyway: every
// call catches up under the flock, and commits of either wake the other's watches at once.
struct OpenStores {
  std::mutex mu;
  std::map<std::string, std::weak_ptr<FileStore::Impl>> by_dir;
};

OpenStores& open_stores() {
  static OpenStores* stores = new OpenStores;  // never destroyed: stores may outlive main()
  return *stores;
}

std::string canonical_dir(const std::string& dir) {
  std::error_code ec;
  auto path = std::filesystem::weakly_canonical(dir, ec);
  return ec ? dir : path.string();
}

}  // namespace

Result<std::unique_ptr<FileStore>> FileStore::open(const std::string& dir) {
  OpenStores& stores = open_stores();
  std::lock_guard registry(stores.mu);
  const std::string key = canonical_dir(dir);
  if (auto it = stores.by_dir.find(key); it != stores.by_dir.end()) {
    if (auto impl = it->second.lock()) {
      std::lock_guard guard(impl->mu);
      if (!impl->broken) return std::unique_ptr<FileStore>(new FileStore(std::move(impl)));
      // A mirror that met damage stays broken; a fresh open reads the files again.
    }
  }
  IPF_ASSIGN_OR_RETURN(auto opened, open(dir, Options{}));
  stores.by_dir[key] = opened->impl_;
  std::erase_if(stores.by_dir, [](const auto& entry) { return entry.second.expired(); });
  return opened;
}

Result<std::unique_ptr<FileStore>> FileStore::open(const std::string& dir, Options options) {
  if (options.compact_after_records < 1 || options.keep_records < 0 ||
      options.keep_records >= options.compact_after_records)
    return make_error(ErrorCode::invalid_argument,
                      "file store options: need 0 <= keep_records < compact_after_records");
  auto impl = std::make_shared<Impl>();
  impl->dir = dir.size() > 1 && dir.back() == '/' ? dir.substr(0, dir.size() - 1) : dir;
  impl->wal_path = impl->dir + "/wal";
  impl->snapshot_path = impl->dir + "/snapshot.json";
  impl->lock_path = impl->dir + "/lock";
  impl->options = std::move(options);
  IPF_TRY(make_dirs(impl->dir, 0700));
  IPF_ASSIGN_OR_RETURN(impl->lock_fd, open_file(impl->lock_path, O_RDWR | O_CREAT));
  {
    std::lock_guard guard(impl->mu);
    IPF_ASSIGN_OR_RETURN(auto lock, FileLock::acquire(impl->lock_fd.get(), impl->lock_path, true));
    IPF_TRY(impl->initialize());
    IPF_TRY(impl->load(true));
  }
  return std::unique_ptr<FileStore>(new FileStore(std::move(impl)));
}

Result<std::optional<KeyValue>> FileStore::get(const std::string& key) {
  std::lock_guard guard(impl_->mu);
  IPF_TRY(impl_->refresh());
  return impl_->state.get(key);
}

Result<ListResult> FileStore::list(const std::string& prefix) {
  std::lock_guard guard(impl_->mu);
  IPF_TRY(impl_->refresh());
  return impl_->state.list(prefix);
}

Result<TxnResult> FileStore::commit(const Txn& txn) {
  IPF_TRY(validate_txn(txn));
  auto& impl = *impl_;
  std::lock_guard guard(impl.mu);
  if (impl.broken) return *impl.broken;
  IPF_ASSIGN_OR_RETURN(auto lock, FileLock::acquire(impl.lock_fd.get(), impl.lock_path, true));
  IPF_TRY(impl.catch_up(true));
  Change change;
  TxnResult result = impl.state.evaluate(txn, &change);
  if (!result.succeeded || change.events.empty()) return result;
  IPF_TRY(impl.append(change));
  if (auto status = impl.state.apply(change); !status.ok())
    return make_error(ErrorCode::internal, "applying a checked change: " + status.error().message);
  impl.changed.notify_all();
  if (impl.state.revision() - impl.wal_start >= impl.options.compact_after_records) {
    // The commit is durable already; a failed rotation is retried by the next commit.
    if (auto status = impl.rotate(impl.state.revision() - impl.options.keep_records); !status.ok())
      impl.log("rotating the log failed (the commit succeeded): " + status.error().message);
  }
  return result;
}

Status FileStore::compact(std::int64_t revision) {
  auto& impl = *impl_;
  std::lock_guard guard(impl.mu);
  IPF_ASSIGN_OR_RETURN(auto lock, FileLock::acquire(impl.lock_fd.get(), impl.lock_path, true));
  IPF_TRY(impl.catch_up(true));
  return impl.rotate(revision);
}

namespace {

class FileWatch final : public Watch {
 public:
  FileWatch(std::shared_ptr<FileStore::Impl> impl, std::string prefix, std::int64_t after)
      : impl_(std::move(impl)), prefix_(std::move(prefix)), position_(after) {}

  Result<std::vector<Event>> next(std::chrono::milliseconds timeout) override {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::unique_lock lock(impl_->mu);
    while (true) {
      IPF_TRY(impl_->refresh());
      IPF_ASSIGN_OR_RETURN(auto events, impl_->state.events_after(prefix_, position_));
      position_ = std::max(position_, impl_->state.revision());
      if (!events.empty()) return events;
      const auto now = std::chrono::steady_clock::now();
      if (now >= deadline) return events;
      impl_->changed.wait_until(lock, std::min(deadline, now + impl_->options.watch_poll_interval));
    }
  }

 private:
  std::shared_ptr<FileStore::Impl> impl_;
  std::string prefix_;
  std::int64_t position_;
};

}  // namespace

Result<std::unique_ptr<Watch>> FileStore::watch(const std::string& prefix,
                                                std::int64_t after_revision) {
  std::lock_guard guard(impl_->mu);
  IPF_TRY(impl_->refresh());
  IPF_TRY(impl_->state.check_watchable(after_revision));
  return std::unique_ptr<Watch>(std::make_unique<FileWatch>(impl_, prefix, after_revision));
}

std::string FileStore::describe() const {
  return "file://" + impl_->dir;
}

}  // namespace ipfence::store

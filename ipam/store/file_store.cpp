#include "ipam/store/file_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <map>
#include <mutex>

#include "ipam/store/file_format.h"
#include "ipam/store/file_json.h"
#include "ipam/store/key_index.h"
#include "ipam/store/packed_uint.h"

// Crash hook points, in write order (a test kills the process at each to prove recovery):
//   wal.partial            half of a record appended        -> torn tail, dropped on open
//   wal.written            record appended, not yet synced  -> kept or lost, never half
//   wal.synced             record durable, commit() not yet returned
//   snapshot.partial/.synced/.renamed    the rotation's snapshot (file_io.h)
//   wal_reset.partial/.synced/.renamed   the rotation's new log
//   init_snapshot.*, init_wal.*          first start in an empty directory

namespace ipfence::store {
namespace {

// Snapshots and logs kept open for their values before a reload (see follow()).
constexpr std::size_t kMaxOpenFiles = 8;

// Where a value's JSON text (encode_value) lies: in a snapshot or log the store has open, or
// in the spill buffer (see Segments).
// In 2-byte pieces, as the index entry's revisions (packed_uint.h): an entry is 30 bytes.
// Offsets reach 2^48 - 1: files up to 256 TiB, more than the filesystems the store runs on
// allow for one file. Segment ids in 2 bytes: Segments reuses the lowest free id, and at most
// kMaxOpenFiles files (plus the one a reload opens, and the spill buffer) are in use at once,
// so ids stay far below 65,536 (131,072 keys: 0.25 MB less than with 4 bytes).
class ValueLocation {
 public:
  ValueLocation() = default;
  ValueLocation(std::uint64_t offset, std::uint32_t length, std::uint32_t segment)
      : offset_(offset), length_(length), segment_(segment) {}
  std::uint64_t offset() const { return offset_.get(); }
  std::uint32_t length() const { return static_cast<std::uint32_t>(length_.get()); }
  std::uint32_t segment() const { return static_cast<std::uint32_t>(segment_.get()); }

 private:
  PackedUint<6> offset_;
  PackedUint<4> length_;
  PackedUint<2> segment_;
};
static_assert(kMaxOpenFiles + 2 < PackedUint<2>::kMax, "segment ids must fit 2 bytes");

// What values are read from: files, each open while a key's value lies in it (even once
// another process has replaced it by rename, so what was indexed is still what is read), and
// one spill buffer for the rare value whose place in a file is not known (files laid out
// differently from what this code writes). Counted references: each key holds one on the
// segment of its value; the current log holds one on its own.
class Segments {
 public:
  static constexpr std::uint32_t kNone = UINT32_MAX;

  // Returns its id, referenced once (the caller's).
  std::uint32_t add_file(UniqueFd fd, const std::string& path) {
    const auto id = free_slot();
    slots_[id] = Slot{std::move(fd), path, {}, 1, true};
    return id;
  }
  // Keeps `text` in memory; the location is referenced once.
  ValueLocation spill(std::string_view text) {
    if (spill_ == kNone) {
      spill_ = free_slot();
      slots_[spill_] = Slot{UniqueFd(), "(memory)", {}, 0, true};
    }
    Slot& slot = slots_[spill_];
    ++slot.refs;
    const ValueLocation at{slot.memory.size(), static_cast<std::uint32_t>(text.size()), spill_};
    slot.memory.append(text);
    return at;
  }
  void ref(std::uint32_t id) { ++slots_[id].refs; }
  void unref(std::uint32_t id) {
    if (id == kNone || --slots_[id].refs > 0) return;
    if (id == spill_) spill_ = kNone;
    slots_[id] = Slot{};
  }

  // Up to `length` bytes at `offset` of a segment (fewer at the end of a file).
  Result<std::string> read(std::uint32_t id, std::uint64_t offset, std::size_t length) const {
    const Slot& slot = slots_[id];
    if (!slot.fd) return slot.memory.substr(offset, length);
    return read_at(slot.fd.get(), slot.path, static_cast<off_t>(offset), length);
  }
  bool in_memory(std::uint32_t id) const { return !slots_[id].fd; }
  std::size_t files_open() const {
    return static_cast<std::size_t>(std::count_if(slots_.begin(), slots_.end(),
                                                  [](const Slot& slot) { return bool(slot.fd); }));
  }
  const std::string& path(std::uint32_t id) const { return slots_[id].path; }

 private:
  struct Slot {
    UniqueFd fd;       // none: the spill buffer
    std::string path;  // for messages
    std::string memory;
    std::size_t refs = 0;
    bool used = false;
  };
  std::uint32_t free_slot() {
    for (std::uint32_t id = 0; id < slots_.size(); ++id)
      if (!slots_[id].used) return id;
    slots_.emplace_back();
    return static_cast<std::uint32_t>(slots_.size() - 1);
  }

  std::vector<Slot> slots_;
  std::uint32_t spill_ = kNone;
};

// Reads values. For a listing, with a window: keys come in order, and a snapshot holds them
// in that order, so one read of a window serves the values of hundreds of keys.
class ValueReader {
 public:
  static constexpr std::size_t kListWindow = 256 * 1024;
  // `window`: how much to read at once (0: just the value).
  ValueReader(const Segments& segments, std::size_t window)
      : segments_(segments), window_size_(window) {}

  Result<std::string> text(const ValueLocation& at) {
    if (segments_.in_memory(at.segment()))
      return segments_.read(at.segment(), at.offset(), at.length());
    if (at.segment() != segment_ || at.offset() < base_ ||
        at.offset() + at.length() > base_ + window_.size()) {
      IPF_ASSIGN_OR_RETURN(window_,
                           segments_.read(at.segment(), at.offset(),
                                          std::max<std::size_t>(at.length(), window_size_)));
      segment_ = at.segment();
      base_ = at.offset();
      if (window_.size() < at.length()) return truncated(at);
    }
    return window_.substr(at.offset() - base_, at.length());
  }
  Result<std::string> value(const ValueLocation& at) {
    IPF_ASSIGN_OR_RETURN(auto json_text, text(at));
    auto decoded = decode_value(json_text);
    if (!decoded.ok())
      return corrupt_file_error(
          segments_.path(at.segment()),
          "value at offset " + std::to_string(at.offset()) + ": " + decoded.error().message);
    return decoded;
  }

 private:
  Error truncated(const ValueLocation& at) const {
    return corrupt_file_error(segments_.path(at.segment()),
                              "ends before the value at offset " + std::to_string(at.offset()));
  }

  const Segments& segments_;
  const std::size_t window_size_;
  std::uint32_t segment_ = Segments::kNone;
  std::uint64_t base_ = 0;
  std::string window_;
};

using Index = KeyIndex<ValueLocation, PackedUint<6>>;
static_assert(sizeof(Index::Entry) == 30);

// A snapshot line's bytes besides key and value: member names, revisions, separators.
constexpr std::size_t kSnapshotLineOverhead = 96;

}  // namespace

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
  std::int64_t wal_start = 0;    // start revision in wal_fd's header: history starts after it
  std::int64_t wal_last = 0;     // revision of the last record read (wal_start if none)
  // Every key, with where its value lies. Values stay in the files: 65,536 allocations are
  // tens of MB of JSON, which reads (rare: resync, a CNI CHECK) fetch from the page cache.
  Index index;
  Segments segments;
  std::uint32_t wal_segment = Segments::kNone;  // wal_fd's segment
  // History, for watches: the bodies of the records of wal_fd, revisions wal_start+1 .. in
  // order. The log always holds every change after its start revision, so history needs no
  // copy in memory.
  std::vector<TextSpan> records;
  std::optional<Error> broken;  // a failed append we could not undo: refuse further use

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
  Status revision_fits(std::int64_t revision, std::uint32_t segment) const;
  bool add_item(Index& built, SnapshotItem&& item, std::uint64_t body_offset,
                std::uint32_t segment);
  Result<std::optional<Index>> stream_snapshot(std::uint32_t segment);
  Result<Index> index_snapshot(std::string_view body, std::uint64_t body_offset,
                               std::uint32_t segment);
  Status replay(std::string_view data, std::uint64_t base, bool exclusive, bool fresh);
  void apply(const Change& change, std::string_view body, std::uint64_t body_offset);
  Status catch_up(bool exclusive);
  Status follow(bool exclusive);
  Status refresh();
  Status append(const Change& change, std::string_view body);
  Status rotate(std::int64_t keep_after);
  Result<std::vector<Event>> events_after(const std::string& prefix, std::int64_t after);
  Status check_watchable(std::int64_t after) const {
    if (after < wal_start) return compacted_error(after, wal_start);
    return {};
  }
  void release(Index& of) {
    of.for_each(
        "", [&](std::string_view, const auto& entry) { segments.unref(entry.value.segment()); });
  }
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
  const int reader = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, 0);
  if (reader < 0) return io_error("dup", wal_path, errno);
  segments.unref(wal_segment);
  wal_segment = segments.add_file(UniqueFd(reader), wal_path);
  wal_fd = std::move(fd);
  wal_dev = st.st_dev;
  wal_ino = st.st_ino;
  wal_offset = kWalHeaderSize;
  wal_last = wal_start;
  records.clear();
  return {};
}

// Reads everything from scratch: the snapshot, then the whole log.
Status FileStore::Impl::load(bool exclusive) {
  IPF_ASSIGN_OR_RETURN(auto snapshot_fd, open_file(snapshot_path, O_RDONLY));
  const int snapshot = snapshot_fd.get();
  const auto segment = segments.add_file(std::move(snapshot_fd), snapshot_path);
  auto streamed = stream_snapshot(segment);
  Result<Index> fresh = streamed.ok() ? Result<Index>(Index()) : Result<Index>(streamed.error());
  if (streamed.ok() && *streamed) {
    fresh = std::move(**streamed);
  } else if (streamed.ok()) {
    // Another layout, or damage: the whole file, checked first, then parsed whole.
    auto text = read_from(snapshot, snapshot_path, 0);
    auto body =
        text.ok() ? unframe_snapshot(*text, snapshot_path) : Result<std::string_view>(text.error());
    if (body.ok()) {
      fresh =
          index_snapshot(*body, static_cast<std::uint64_t>(body->data() - text->data()), segment);
      if (!fresh.ok()) fresh = corrupt_file_error(snapshot_path, fresh.error().message);
    } else {
      fresh = body.error();
    }
  }
  segments.unref(segment);  // the keys hold it now (if any)
  if (!fresh.ok()) return fresh.error();

  auto fd = open_file(wal_path, O_RDWR);
  std::string data;
  Status opened = fd.ok() ? open_wal(std::move(*fd), &data) : Status(fd.error());
  if (opened.ok() && wal_start > fresh->revision())
    opened = corrupt_file_error(wal_path, "starts after revision " + std::to_string(wal_start) +
                                              " but the snapshot is at revision " +
                                              std::to_string(fresh->revision()) +
                                              ", so the changes in between are missing");
  if (!opened.ok()) {
    release(*fresh);
    return opened;
  }
  release(index);
  index = std::move(*fresh);
  return replay(std::string_view(data).substr(kWalHeaderSize), kWalHeaderSize, exclusive, true);
}

// Adds a snapshot's key to `built`, referencing the snapshot's segment (whose body starts at
// `body_offset`), or the spill buffer for a value whose text could not be located. False for
// a key that is there already.
bool FileStore::Impl::add_item(Index& built, SnapshotItem&& item, std::uint64_t body_offset,
                               std::uint32_t segment) {
  if (built.find(item.key)) return false;
  ValueLocation at;
  if (item.value_text) {
    at = {body_offset + item.value_text->offset, item.value_text->length, segment};
    segments.ref(segment);
  } else {
    at = segments.spill(encode_value(item.value));
  }
  built.insert(item.key, Index::Entry{item.create_revision, item.mod_revision, item.version, at});
  return true;
}

// The keys of the snapshot in `segment`, read a piece at a time and checked against the
// header's length and checksum at the end. nullopt when the file is not laid out as this code
// writes it, or is damaged: the caller reads it whole, which says what is wrong.
Result<std::optional<Index>> FileStore::Impl::stream_snapshot(std::uint32_t segment) {
  constexpr std::size_t kPiece = 256 * 1024;
  IPF_ASSIGN_OR_RETURN(auto head, segments.read(segment, 0, 256));
  const auto header = parse_snapshot_header(head);
  if (!header) return std::optional<Index>();
  Index built;
  SnapshotLineReader reader(
      [&](SnapshotItem&& item) { return add_item(built, std::move(item), header->size, segment); });
  std::uint32_t crc = crc32_begin();
  std::uint64_t at = header->size;
  bool good = true;
  while (good) {
    auto piece = segments.read(segment, at, kPiece);
    if (!piece.ok()) {
      release(built);
      return piece.error();
    }
    if (piece->empty()) break;
    crc = crc32_update(crc, *piece);
    at += piece->size();
    good = reader.feed(*piece);
  }
  if (!good || !reader.finish() || at - header->size != header->bytes ||
      crc32_end(crc) != header->crc) {
    release(built);
    return std::optional<Index>();
  }
  if (auto fits = revision_fits(reader.revision(), segment); !fits.ok()) {
    release(built);
    return fits.error();
  }
  built.set_revision(reader.revision());
  built.compact_keys();
  return std::optional<Index>(std::move(built));
}

// The index keeps revisions in 48 bits: a snapshot beyond that is refused, not cut short (its
// keys' revisions and versions are not beyond its own: snapshot_item checks).
Status FileStore::Impl::revision_fits(std::int64_t revision, std::uint32_t segment) const {
  if (revision <= Index::kMaxRevision) return {};
  return corrupt_file_error(segments.path(segment),
                            "snapshot at revision " + std::to_string(revision) +
                                " is beyond revision " + std::to_string(Index::kMaxRevision) +
                                ", the highest this store keeps");
}

// The keys of a snapshot body (at `body_offset` in segment `segment`).
Result<Index> FileStore::Impl::index_snapshot(std::string_view body, std::uint64_t body_offset,
                                              std::uint32_t segment) {
  std::int64_t revision = 0;
  Index built;
  auto scanned = scan_snapshot(body, &revision, [&](SnapshotItem&& item) {
    return add_item(built, std::move(item), body_offset, segment);
  });
  if (!scanned.ok()) {
    release(built);
    return scanned.error();
  }
  if (auto fits = revision_fits(revision, segment); !fits.ok()) {
    release(built);
    return fits.error();
  }
  built.set_revision(revision);
  built.compact_keys();
  return built;
}

// Applies the records in `data` (read from offset `base` of the current log) and notes where
// each lies. `fresh`: the index was just loaded from the snapshot, and the log must reach it.
Status FileStore::Impl::replay(std::string_view data, std::uint64_t base, bool exclusive,
                               bool fresh) {
  IPF_ASSIGN_OR_RETURN(auto scan, scan_records(data, base, wal_path));
  for (const auto& record : scan.records) {
    auto change = decode_change(record.body);
    if (!change.ok()) return wal_error(wal_path, record.offset, change.error());
    if (change->revision != wal_last + 1)
      return wal_error(wal_path, record.offset,
                       make_error(ErrorCode::corrupt,
                                  "revision " + std::to_string(change->revision) + " where " +
                                      std::to_string(wal_last + 1) + " was expected"));
    const std::uint64_t body_offset = record.offset + kRecordHeaderSize;
    wal_last = change->revision;
    wal_offset = body_offset + record.body.size();
    records.push_back(TextSpan{body_offset, static_cast<std::uint32_t>(record.body.size())});
    // In the snapshot already (fresh), or read from the previous log before a rotation.
    if (change->revision <= index.revision()) continue;
    if (auto status = index.check(*change); !status.ok())
      return wal_error(wal_path, record.offset, status.error());
    apply(*change, record.body, body_offset);
  }
  if (fresh && wal_last < index.revision())
    return corrupt_file_error(wal_path, "history ends at revision " + std::to_string(wal_last) +
                                            " but the snapshot is at revision " +
                                            std::to_string(index.revision()));
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

// Applies a checked change whose record `body` lies at `body_offset` of the current log: the
// keys it puts point at their values' text in that record.
void FileStore::Impl::apply(const Change& change, std::string_view body,
                            std::uint64_t body_offset) {
  const auto spans = locate_values(body, change);
  index.apply(
      change,
      [&](std::size_t i) {
        if (!spans[i]) return segments.spill(encode_value(change.events[i].kv.value));
        segments.ref(wal_segment);
        return ValueLocation{body_offset + spans[i]->offset, spans[i]->length, wal_segment};
      },
      [&](const ValueLocation& old) { segments.unref(old.segment()); });
}

// With the flock held: brings the index up to the files.
Status FileStore::Impl::catch_up(bool exclusive) {
  if (broken) return *broken;
  auto status = follow(exclusive);
  // Damage found halfway through leaves the index partly updated: refuse to serve it, so
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
  if (wal_start > index.revision()) return load(exclusive);  // missed more than a log holds
  IPF_TRY(replay(std::string_view(data).substr(kWalHeaderSize), kWalHeaderSize, exclusive, false));
  if (wal_last < index.revision())
    return corrupt_file_error(wal_path, "ends at revision " + std::to_string(wal_last) +
                                            " but revision " + std::to_string(index.revision()) +
                                            " was already committed");
  // Keys written before a rotation still read from the files it replaced. After a few
  // rotations by other processes, read everything from the new files instead, so that old
  // files do not stay open for ever.
  if (segments.files_open() > kMaxOpenFiles) return load(exclusive);
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

Status FileStore::Impl::append(const Change& change, std::string_view body) {
  const std::string record = frame_record(body);
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
  records.push_back(
      TextSpan{wal_offset + kRecordHeaderSize, static_cast<std::uint32_t>(body.size())});
  wal_offset += record.size();
  wal_last = change.revision;
  return {};
}

// With the exclusive lock, caught up: snapshot at the current revision, then a new log
// from `keep_after`. A crash between the two leaves an older log that still reaches the
// snapshot, which load() accepts.
Status FileStore::Impl::rotate(std::int64_t keep_after) {
  keep_after = std::clamp(keep_after, wal_start, index.revision());
  // The values' text is copied as it is in the files, never decoded.
  SnapshotWriter writer(index.revision());
  // Sized up front: a string that doubles its way to 45 MB leaves the smaller blocks behind
  // in the heap.
  std::size_t estimate = 64;
  index.for_each("", [&](std::string_view key, const Index::Entry& entry) {
    estimate += key.size() + entry.value.length() + kSnapshotLineOverhead;
  });
  writer.reserve(estimate);
  std::vector<TextSpan> spans;
  spans.reserve(index.size());
  ValueReader reader(segments, ValueReader::kListWindow);
  Status read;
  index.for_each("", [&](std::string_view key, const Index::Entry& entry) {
    if (!read.ok()) return;
    auto text = reader.text(entry.value);
    if (!text.ok()) {
      read = text.error();
      return;
    }
    spans.push_back(
        writer.add(key, *text, entry.create_revision(), entry.mod_revision(), entry.version()));
  });
  IPF_TRY(read);
  const std::string body = std::move(writer).finish();
  const std::string header = snapshot_header(body);
  IPF_TRY(write_file_atomic(dir, "snapshot.json", {header, body}, options.crash_hook, "snapshot"));
  const std::uint64_t body_offset = header.size();

  // The keys now read their values from the new snapshot (ours: we hold the exclusive lock),
  // so the old snapshot and logs can close.
  IPF_ASSIGN_OR_RETURN(auto snapshot_fd, open_file(snapshot_path, O_RDONLY));
  const auto segment = segments.add_file(std::move(snapshot_fd), snapshot_path);
  std::size_t next = 0;
  index.for_each("", [&](std::string_view, Index::Entry& entry) {
    segments.unref(entry.value.segment());
    segments.ref(segment);
    entry.value = {body_offset + spans[next].offset, spans[next].length, segment};
    ++next;
  });
  segments.unref(segment);
  // Keys created since the index was built, and deleted ones, go into (out of) its compact
  // blocks with the snapshot that now holds them.
  index.compact_keys();

  // The kept records, byte for byte.
  std::string content = encode_wal_header(keep_after);
  if (keep_after < index.revision()) {
    const auto& first = records[static_cast<std::size_t>(keep_after - wal_start)];
    const std::uint64_t from = first.offset - kRecordHeaderSize;
    IPF_ASSIGN_OR_RETURN(auto kept, segments.read(wal_segment, from, wal_offset - from));
    content += kept;
  }
  IPF_TRY(write_file_atomic(dir, "wal", content, options.crash_hook, "wal_reset"));
  IPF_ASSIGN_OR_RETURN(auto fd, open_file(wal_path, O_RDWR));
  std::string data;
  IPF_TRY(open_wal(std::move(fd), &data));
  return replay(std::string_view(data).substr(kWalHeaderSize), kWalHeaderSize, true, false);
}

// Events under `prefix` after `after`, read back from the log's records.
Result<std::vector<Event>> FileStore::Impl::events_after(const std::string& prefix,
                                                         std::int64_t after) {
  IPF_TRY(check_watchable(after));
  std::vector<Event> events;
  if (after >= index.revision()) return events;
  // The records are consecutive in the log: one read serves them all.
  const auto first = static_cast<std::size_t>(after - wal_start);
  const auto last = static_cast<std::size_t>(index.revision() - wal_start) - 1;
  const std::uint64_t from = records[first].offset;
  const std::uint64_t to = records[last].offset + records[last].length;
  IPF_ASSIGN_OR_RETURN(auto data, segments.read(wal_segment, from, to - from));
  if (data.size() != to - from)
    return corrupt_file_error(
        wal_path, "ends before the record at offset " + std::to_string(records[last].offset));
  for (std::size_t i = first; i <= last; ++i) {
    auto change =
        decode_change(std::string_view(data).substr(records[i].offset - from, records[i].length));
    if (!change.ok()) return wal_error(wal_path, records[i].offset, change.error());
    for (auto& event : change->events)
      if (has_prefix(event.kv.key, prefix)) events.push_back(std::move(event));
  }
  return events;
}

FileStore::FileStore(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
FileStore::~FileStore() = default;

namespace {

// Stores opened with the default options, by directory: one mirror per process. The agent
// opens the same store twice (the allocator, and the conflict monitor's own connection);
// with 65,536 allocations each mirror's index holds about 10 MB, and two of them would
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
  const auto* entry = impl_->index.find(key);
  if (!entry) return std::optional<KeyValue>();
  IPF_ASSIGN_OR_RETURN(auto value, ValueReader(impl_->segments, 0).value(entry->value));
  return std::optional<KeyValue>(KeyValue{key, std::move(value), entry->create_revision(),
                                          entry->mod_revision(), entry->version()});
}

// With the mutex held and caught up: calls each(kv) for every key under `prefix`, reading the
// values in windows. kv is one object for all keys, so that its strings keep their capacity.
template <class Each>
static Status read_each(FileStore::Impl& impl, const std::string& prefix, Each&& each) {
  ValueReader reader(impl.segments, ValueReader::kListWindow);
  Status read;
  KeyValue kv;
  impl.index.for_each(prefix, [&](std::string_view key, const Index::Entry& entry) {
    if (!read.ok()) return;
    auto value = reader.value(entry.value);
    if (!value.ok()) {
      read = value.error();
      return;
    }
    kv.key.assign(key);
    kv.value = std::move(*value);
    kv.create_revision = entry.create_revision();
    kv.mod_revision = entry.mod_revision();
    kv.version = entry.version();
    each(kv);
  });
  return read;
}

Result<ListResult> FileStore::list(const std::string& prefix) {
  std::lock_guard guard(impl_->mu);
  IPF_TRY(impl_->refresh());
  ListResult result;
  result.revision = impl_->index.revision();
  IPF_TRY(read_each(*impl_, prefix, [&](KeyValue& kv) {
    result.kvs.push_back(
        KeyValue{kv.key, std::move(kv.value), kv.create_revision, kv.mod_revision, kv.version});
  }));
  return result;
}

Result<std::int64_t> FileStore::list_each(const std::vector<std::string>& prefixes,
                                          const std::function<void(const KeyValue& kv)>& each) {
  std::lock_guard guard(impl_->mu);
  IPF_TRY(impl_->refresh());
  for (const auto& prefix : prefixes) IPF_TRY(read_each(*impl_, prefix, each));
  return impl_->index.revision();
}

Result<TxnResult> FileStore::commit(const Txn& txn) {
  IPF_TRY(validate_txn(txn));
  auto& impl = *impl_;
  std::lock_guard guard(impl.mu);
  if (impl.broken) return *impl.broken;
  IPF_ASSIGN_OR_RETURN(auto lock, FileLock::acquire(impl.lock_fd.get(), impl.lock_path, true));
  IPF_TRY(impl.catch_up(true));
  Change change;
  TxnResult result = impl.index.evaluate(txn, &change);
  if (!result.succeeded || change.events.empty()) return result;
  if (auto status = impl.index.check(change); !status.ok())
    return make_error(ErrorCode::internal, "a change that does not fit: " + status.error().message);
  const std::string body = encode_change(change);
  const std::uint64_t body_offset = impl.wal_offset + kRecordHeaderSize;
  IPF_TRY(impl.append(change, body));
  impl.apply(change, body, body_offset);
  impl.changed.notify_all();
  if (impl.index.revision() - impl.wal_start >= impl.options.compact_after_records) {
    // The commit is durable already; a failed rotation is retried by the next commit.
    if (auto status = impl.rotate(impl.index.revision() - impl.options.keep_records); !status.ok())
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
      IPF_ASSIGN_OR_RETURN(auto events, impl_->events_after(prefix_, position_));
      position_ = std::max(position_, impl_->index.revision());
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
  IPF_TRY(impl_->check_watchable(after_revision));
  return std::unique_ptr<Watch>(std::make_unique<FileWatch>(impl_, prefix, after_revision));
}

std::string FileStore::describe() const {
  return "file://" + impl_->dir;
}

}  // namespace ipfence::store

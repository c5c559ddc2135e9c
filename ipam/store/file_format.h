// The byte layout of the file store, kept apart from what the bytes mean (file_json.h).
//
//   wal            header (24 bytes): "IPFWAL01", start revision (u64 LE), 4 zero bytes,
//                  CRC32 of the previous 20 bytes; then records, one per committed
//                  transaction: "IPFR", body length (u32 LE), CRC32 of the body, CRC32 of
//                  these first 12 bytes; then the body.
//   snapshot.json  one line "ipfence-snapshot v1 crc32=<8 hex> bytes=<n>\n", then the body.
//
// The record header has its own checksum so that a damaged length is recognised as damage
// rather than trusted; that is what lets the scanner tell a torn final write (drop it) from
// a damaged record with committed records after it (refuse to start).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ipam/result.h"

namespace ipfence::store {

std::uint32_t crc32(std::string_view data);
// CRC32 over data that arrives in pieces: start from crc32_begin(), feed every piece in order,
// and crc32_end() gives what crc32() of the whole would.
inline constexpr std::uint32_t crc32_begin() {
  return 0xFFFFFFFFu;
}
std::uint32_t crc32_update(std::uint32_t state, std::string_view piece);
inline constexpr std::uint32_t crc32_end(std::uint32_t state) {
  return state ^ 0xFFFFFFFFu;
}

inline constexpr std::size_t kWalHeaderSize = 24;
inline constexpr std::size_t kRecordHeaderSize = 16;

std::string encode_wal_header(std::int64_t start_revision);
// The start revision, or ErrorCode::corrupt naming `path`. The header is only ever written
// by atomic replacement, so a short or damaged one is damage, never a torn write.
Result<std::int64_t> decode_wal_header(std::string_view data, const std::string& path);

std::string frame_record(std::string_view body);

struct WalRecord {
  std::uint64_t offset = 0;  // in the file
  std::string_view body;
};

struct WalScan {
  std::vector<WalRecord> records;  // complete records with good checksums, in order
  std::uint64_t end = 0;           // file offset just after the last good record
  std::uint64_t torn_bytes = 0;    // bytes after `end` that are an unfinished final write
};

// Scans records in `data`, which was read from file offset `base` to the end of the file.
// A bad record at the very end (short header, short body, or bad checksum of the final
// record) is a write that a crash interrupted before commit() returned: it is reported as
// torn_bytes. A bad record followed by more data is ErrorCode::corrupt with the offset.
Result<WalScan> scan_records(std::string_view data, std::uint64_t base, const std::string& path);

std::string frame_snapshot(std::string_view body);
// Just the first line that frame_snapshot puts before `body`.
std::string snapshot_header(std::string_view body);
// The first line of a snapshot file: what it says of the body, and its own length (with the
// newline). nullopt when `file_start` does not begin with a whole, good header line.
struct SnapshotHeader {
  std::uint32_t crc = 0;
  std::size_t bytes = 0;
  std::size_t size = 0;
};
std::optional<SnapshotHeader> parse_snapshot_header(std::string_view file_start);
// The body, after checking the header line, length and checksum.
Result<std::string_view> unframe_snapshot(std::string_view file, const std::string& path);

// "<path>: <what>. <what to do>": the message for damaged store files.
Error corrupt_file_error(const std::string& path, const std::string& what);

}  // namespace ipfence::store

#include "ipam/store/file_format.h"

#include <array>
#include <charconv>
#include <cstdio>

namespace ipfence::store {
namespace {

constexpr std::string_view kWalMagic = "IPFWAL01";
constexpr std::string_view kRecordMagic = "IPFR";
constexpr std::string_view kSnapshotTag = "ipfence-snapshot v1 ";

constexpr std::array<std::uint32_t, 256> make_crc_table() {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    table[i] = c;
  }
  return table;
}
constexpr auto kCrcTable = make_crc_table();

void put_u32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::uint64_t get_le(std::string_view data, std::size_t at, int bytes) {
  std::uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i)
    v = (v << 8) | static_cast<unsigned char>(data[at + static_cast<std::size_t>(i)]);
  return v;
}

// Whether a record header with valid magic and checksum starts at data[at].
bool header_ok(std::string_view data, std::size_t at) {
  if (data.size() - at < kRecordHeaderSize) return false;
  return data.substr(at, 4) == kRecordMagic &&
         get_le(data, at + 12, 4) == crc32(data.substr(at, 12));
}

}  // namespace

std::uint32_t crc32_update(std::uint32_t state, std::string_view piece) {
  for (unsigned char byte : piece) state = kCrcTable[(state ^ byte) & 0xff] ^ (state >> 8);
  return state;
}

std::uint32_t crc32(std::string_view data) {
  return crc32_end(crc32_update(crc32_begin(), data));
}

Error corrupt_file_error(const std::string& path, const std::string& what) {
  return make_error(ErrorCode::corrupt,
                    path + ": " + what +
                        ". The store will not start on damaged files rather than lose "
                        "allocations: restore the directory from a backup, or move it aside "
                        "to start empty and re-create allocations");
}

std::string encode_wal_header(std::int64_t start_revision) {
  std::string out(kWalMagic);
  const auto start = static_cast<std::uint64_t>(start_revision);
  put_u32(out, static_cast<std::uint32_t>(start));
  put_u32(out, static_cast<std::uint32_t>(start >> 32));
  put_u32(out, 0);
  put_u32(out, crc32(out));
  return out;
}

Result<std::int64_t> decode_wal_header(std::string_view data, const std::string& path) {
  if (data.size() < kWalHeaderSize)
    return corrupt_file_error(
        path, "the log header is truncated (" + std::to_string(data.size()) + " bytes)");
  if (data.substr(0, kWalMagic.size()) != kWalMagic)
    return corrupt_file_error(path, "this is not an ipfence store log (bad magic)");
  if (get_le(data, 20, 4) != crc32(data.substr(0, 20)))
    return corrupt_file_error(path, "the log header has a bad checksum");
  const auto start = static_cast<std::int64_t>(get_le(data, 8, 8));
  if (start < 0) return corrupt_file_error(path, "the log header has a negative revision");
  return start;
}

std::string frame_record(std::string_view body) {
  std::string out(kRecordMagic);
  put_u32(out, static_cast<std::uint32_t>(body.size()));
  put_u32(out, crc32(body));
  put_u32(out, crc32(out));
  out.append(body);
  return out;
}

Result<WalScan> scan_records(std::string_view data, std::uint64_t base, const std::string& path) {
  WalScan scan;
  std::size_t at = 0;
  while (at < data.size()) {
    const std::size_t left = data.size() - at;
    const std::uint64_t offset = base + at;
    if (!header_ok(data, at)) {
      // A damaged header is torn only if no good record follows; a real header after it
      // means committed data after damage.
      for (std::size_t later = at + 1; later + kRecordHeaderSize <= data.size(); ++later)
        if (header_ok(data, later))
          return corrupt_file_error(
              path, "damaged record header at offset " + std::to_string(offset) +
                        " followed by a record at offset " + std::to_string(base + later));
      break;
    }
    const std::size_t length = get_le(data, at + 4, 4);
    if (length > left - kRecordHeaderSize) break;  // the body was never fully written
    const std::string_view body = data.substr(at + kRecordHeaderSize, length);
    if (crc32(body) != get_le(data, at + 8, 4)) {
      if (length == left - kRecordHeaderSize) break;  // the final record: torn
      return corrupt_file_error(path, "record at offset " + std::to_string(offset) +
                                          " has a bad checksum and is followed by more data");
    }
    scan.records.push_back(WalRecord{offset, body});
    at += kRecordHeaderSize + length;
  }
  scan.end = base + at;
  scan.torn_bytes = data.size() - at;
  return scan;
}

std::string snapshot_header(std::string_view body) {
  char header[64];
  std::snprintf(header, sizeof header, "crc32=%08x bytes=%zu\n", static_cast<unsigned>(crc32(body)),
                body.size());
  return std::string(kSnapshotTag) + header;
}

std::string frame_snapshot(std::string_view body) {
  std::string out = snapshot_header(body);
  out.append(body);
  return out;
}

std::optional<SnapshotHeader> parse_snapshot_header(std::string_view file_start) {
  const auto newline = file_start.find('\n');
  if (!file_start.starts_with(kSnapshotTag) || newline == std::string_view::npos)
    return std::nullopt;
  const std::string_view line =
      file_start.substr(kSnapshotTag.size(), newline - kSnapshotTag.size());
  SnapshotHeader header;
  header.size = newline + 1;
  const char* p = line.data();
  const char* end = line.data() + line.size();
  if (!line.starts_with("crc32=") || line.size() <= 21 || line.substr(14, 7) != " bytes=")
    return std::nullopt;
  if (std::from_chars(p + 6, p + 14, header.crc, 16).ptr != p + 14 ||
      std::from_chars(p + 21, end, header.bytes).ptr != end)
    return std::nullopt;
  return header;
}

Result<std::string_view> unframe_snapshot(std::string_view file, const std::string& path) {
  const auto newline = file.find('\n');
  if (!file.starts_with(kSnapshotTag) || newline == std::string_view::npos)
    return corrupt_file_error(path, "this is not an ipfence store snapshot (bad first line)");
  const auto header = parse_snapshot_header(file);
  if (!header) return corrupt_file_error(path, "the snapshot header line is damaged");
  const std::string_view body = file.substr(header->size);
  if (body.size() != header->bytes)
    return corrupt_file_error(path, "the snapshot has " + std::to_string(body.size()) +
                                        " bytes of data where its header says " +
                                        std::to_string(header->bytes) +
                                        " (truncated or appended to)");
  if (crc32(body) != header->crc)
    return corrupt_file_error(path, "the snapshot has a bad checksum");
  return body;
}

}  // namespace ipfence::store

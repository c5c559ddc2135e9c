#include "ipam/store/file_json.h"

#include <charconv>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>

#include "ipam/store/etcd_codec.h"
#include "ipam/utf8.h"

namespace ipfence::store {
namespace {

using nlohmann::json;
// One base64 for both backends: the etcd codec's (etcd's wire format needs it anyway).
using etcd::base64_decode;
using etcd::base64_encode;

json encode_bytes(const std::string& s) {
  if (valid_utf8(s)) return s;
  return json{{"base64", base64_encode(s)}};
}

// Throws json::exception for the wrong shape; the decoders turn that into corrupt.
std::string decode_bytes(const json& j) {
  if (j.is_string()) return j.get<std::string>();
  auto decoded = base64_decode(j.at("base64").get<std::string>());
  if (!decoded) throw std::invalid_argument("bad base64");
  return *decoded;
}

std::int64_t positive(const json& j, const char* field) {
  const auto v = j.at(field).get<std::int64_t>();
  if (v <= 0) throw std::invalid_argument(std::string(field) + " is not positive");
  return v;
}

}  // namespace

std::string encode_change(const Change& change) {
  json ops = json::array();
  for (const auto& event : change.events) {
    if (event.type == Event::Type::put) {
      ops.push_back({{"op", "put"},
                     {"key", encode_bytes(event.kv.key)},
                     {"value", encode_bytes(event.kv.value)},
                     {"create_revision", event.kv.create_revision},
                     {"version", event.kv.version}});
    } else {
      ops.push_back({{"op", "delete"}, {"key", encode_bytes(event.kv.key)}});
    }
  }
  return json{{"revision", change.revision}, {"ops", std::move(ops)}}.dump();
}

Result<Change> decode_change(std::string_view body) {
  try {
    const json j = json::parse(body);
    Change change;
    change.revision = positive(j, "revision");
    for (const auto& op : j.at("ops")) {
      Event event;
      event.kv.key = decode_bytes(op.at("key"));
      event.kv.mod_revision = change.revision;
      const auto type = op.at("op").get<std::string>();
      if (type == "put") {
        event.kv.value = decode_bytes(op.at("value"));
        event.kv.create_revision = positive(op, "create_revision");
        event.kv.version = positive(op, "version");
      } else if (type == "delete") {
        event.type = Event::Type::del;
      } else {
        throw std::invalid_argument("unknown op " + type);
      }
      change.events.push_back(std::move(event));
    }
    if (change.events.empty()) throw std::invalid_argument("no ops");
    return change;
  } catch (const std::exception& e) {
    return make_error(ErrorCode::corrupt, std::string("undecodable record: ") + e.what());
  }
}

std::string encode_snapshot(std::int64_t revision, const std::map<std::string, KeyValue>& kvs) {
  // One key per line keeps the file readable and diffable for an operator, and lets
  // decode_snapshot parse one line at a time. Each line is dumped on its own, so writing a
  // snapshot never holds a JSON tree of the whole store.
  std::string out = "{\"revision\":" + std::to_string(revision) + ",\"kvs\":[";
  bool first = true;
  for (const auto& [key, kv] : kvs) {
    out += first ? "\n" : ",\n";
    first = false;
    out += json{{"key", encode_bytes(key)},
                {"value", encode_bytes(kv.value)},
                {"create_revision", kv.create_revision},
                {"mod_revision", kv.mod_revision},
                {"version", kv.version}}
               .dump();
  }
  out += "\n]}\n";
  return out;
}

namespace {

void add_snapshot_item(const json& item, SnapshotData& data) {
  KeyValue kv{decode_bytes(item.at("key")), decode_bytes(item.at("value")),
              positive(item, "create_revision"), positive(item, "mod_revision"),
              positive(item, "version")};
  if (kv.key.empty() || kv.create_revision > kv.mod_revision || kv.mod_revision > data.revision)
    throw std::invalid_argument("key " + kv.key + " has impossible revisions");
  auto key = kv.key;
  // Keys come sorted (encode_snapshot writes them so); the caller checks for duplicates.
  data.kvs.emplace_hint(data.kvs.end(), std::move(key), std::move(kv));
}

// The layout encode_snapshot writes, one item per line, parsed line by line: a JSON tree of a
// whole 65,536-allocation store is several times its text, and start-up would hold both.
// nullopt when the body is laid out differently (then the caller parses it whole).
std::optional<SnapshotData> decode_snapshot_lines(std::string_view body) {
  constexpr std::string_view kHead = "{\"revision\":";
  constexpr std::string_view kKvs = ",\"kvs\":[";
  constexpr std::string_view kTail = "\n]}\n";
  if (!body.starts_with(kHead) || !body.ends_with(kTail)) return std::nullopt;
  SnapshotData data;
  const char* p = body.data() + kHead.size();
  const char* end = body.data() + body.size();
  auto [after, ec] = std::from_chars(p, end, data.revision);
  if (ec != std::errc() || after == p) return std::nullopt;
  std::string_view rest(after, static_cast<std::size_t>(end - after));
  if (!rest.starts_with(kKvs)) return std::nullopt;
  rest.remove_prefix(kKvs.size());
  rest.remove_suffix(kTail.size());
  if (data.revision < 0) throw std::invalid_argument("negative revision");
  while (!rest.empty()) {
    // JSON escapes newlines inside strings, so an item never spans lines.
    if (rest.front() != '\n') return std::nullopt;
    rest.remove_prefix(1);
    auto newline = rest.find('\n');
    std::string_view line = rest.substr(0, newline);
    rest = newline == std::string_view::npos ? std::string_view() : rest.substr(newline);
    if (!rest.empty()) {
      if (!line.ends_with(',')) return std::nullopt;
      line.remove_suffix(1);
    }
    const std::size_t before = data.kvs.size();
    add_snapshot_item(json::parse(line), data);
    if (data.kvs.size() == before)
      throw std::invalid_argument("duplicate key " + std::string(line));
  }
  return data;
}

}  // namespace

Result<SnapshotData> decode_snapshot(std::string_view body) {
  try {
    if (auto data = decode_snapshot_lines(body)) return std::move(*data);
    const json j = json::parse(body);
    SnapshotData data;
    data.revision = j.at("revision").get<std::int64_t>();
    if (data.revision < 0) throw std::invalid_argument("negative revision");
    for (const auto& item : j.at("kvs")) {
      const std::size_t before = data.kvs.size();
      add_snapshot_item(item, data);
      if (data.kvs.size() == before)
        throw std::invalid_argument("duplicate key " + item.at("key").dump());
    }
    return data;
  } catch (const std::exception& e) {
    return make_error(ErrorCode::corrupt, std::string("undecodable snapshot: ") + e.what());
  }
}

}  // namespace ipfence::store

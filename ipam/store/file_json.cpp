#include "ipam/store/file_json.h"

#include "ipam/store/etcd_codec.h"
#include "ipam/utf8.h"

#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>

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
  json list = json::array();
  for (const auto& [key, kv] : kvs)
    list.push_back({{"key", encode_bytes(kv.key)},
                    {"value", encode_bytes(kv.value)},
                    {"create_revision", kv.create_revision},
                    {"mod_revision", kv.mod_revision},
                    {"version", kv.version}});
  // One key per line keeps the file readable and diffable for an operator.
  std::string out = "{\"revision\":" + std::to_string(revision) + ",\"kvs\":[";
  for (std::size_t i = 0; i < list.size(); ++i) out += (i ? ",\n" : "\n") + list[i].dump();
  out += "\n]}\n";
  return out;
}

Result<SnapshotData> decode_snapshot(std::string_view body) {
  try {
    const json j = json::parse(body);
    SnapshotData data;
    data.revision = j.at("revision").get<std::int64_t>();
    if (data.revision < 0) throw std::invalid_argument("negative revision");
    for (const auto& item : j.at("kvs")) {
      KeyValue kv{decode_bytes(item.at("key")), decode_bytes(item.at("value")),
                  positive(item, "create_revision"), positive(item, "mod_revision"),
                  positive(item, "version")};
      if (kv.key.empty() || kv.create_revision > kv.mod_revision || kv.mod_revision > data.revision)
        throw std::invalid_argument("key " + kv.key + " has impossible revisions");
      auto key = kv.key;
      if (!data.kvs.emplace(std::move(key), std::move(kv)).second)
        throw std::invalid_argument("duplicate key " + item.at("key").dump());
    }
    return data;
  } catch (const std::exception& e) {
    return make_error(ErrorCode::corrupt, std::string("undecodable snapshot: ") + e.what());
  }
}

}  // namespace ipfence::store

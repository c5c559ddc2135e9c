#include "ipam/store/file_json.h"

#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>

namespace ipfence::store {
namespace {

using nlohmann::json;

constexpr std::string_view kBase64 =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// As strict as nlohmann's dump(), which throws on anything else: no overlong forms, no
// surrogates, nothing above U+10FFFF.
bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    int extra;
    std::uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      extra = 1, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3, cp = c & 0x07;
    } else {
      return false;
    }
    if (s.size() - i <= static_cast<std::size_t>(extra)) return false;
    for (int k = 1; k <= extra; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + static_cast<std::size_t>(k)]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr std::uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += static_cast<std::size_t>(extra) + 1;
  }
  return true;
}

std::string base64_encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < in.size(); i += 3) {
    std::uint32_t n = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) n |= static_cast<unsigned char>(in[i + 1]) << 8;
    if (i + 2 < in.size()) n |= static_cast<unsigned char>(in[i + 2]);
    out.push_back(kBase64[(n >> 18) & 63]);
    out.push_back(kBase64[(n >> 12) & 63]);
    out.push_back(i + 1 < in.size() ? kBase64[(n >> 6) & 63] : '=');
    out.push_back(i + 2 < in.size() ? kBase64[n & 63] : '=');
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view in) {
  if (in.size() % 4 != 0) return std::nullopt;
  std::string out;
  for (std::size_t i = 0; i < in.size(); i += 4) {
    std::uint32_t n = 0;
    int pad = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      const char c = in[i + k];
      const bool last_group = i + 4 == in.size();
      if (c == '=' && last_group && k >= 2) {
        ++pad;
        n <<= 6;
        continue;
      }
      const auto pos = kBase64.find(c);
      if (pos == std::string_view::npos || pad > 0) return std::nullopt;
      n = (n << 6) | static_cast<std::uint32_t>(pos);
    }
    out.push_back(static_cast<char>((n >> 16) & 0xff));
    if (pad < 2) out.push_back(static_cast<char>((n >> 8) & 0xff));
    if (pad < 1) out.push_back(static_cast<char>(n & 0xff));
  }
  return out;
}

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

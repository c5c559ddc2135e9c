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

std::string encode_value(std::string_view bytes) {
  return encode_bytes(std::string(bytes)).dump();
}

namespace {

// The common case without a JSON parser (the agent's start-up decodes every value): a string
// whose escapes are all single characters. nullopt for anything else (\uXXXX escapes, base64
// objects), which the parser handles.
std::optional<std::string> decode_simple_string(std::string_view text) {
  if (text.size() < 2 || text.front() != '"' || text.back() != '"') return std::nullopt;
  text = text.substr(1, text.size() - 2);
  // The exact size up front: a list keeps every value, so slack would stay for good.
  std::size_t escapes = 0;
  for (std::size_t i = 0; i < text.size(); ++i)
    if (text[i] == '\\') ++escapes, ++i;
  std::string out;
  out.reserve(text.size() - escapes);
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '"' || static_cast<unsigned char>(c) < 0x20) return std::nullopt;
    if (c != '\\') {
      out.push_back(c);
      continue;
    }
    // The single-character escapes of JSON (RFC 8259 section 7) and what each stands for.
    static constexpr std::string_view kEscape = "\"\\/bfnrt";
    static constexpr std::string_view kMeaning = "\"\\/\b\f\n\r\t";
    if (++i == text.size()) return std::nullopt;
    const std::size_t escape = kEscape.find(text[i]);
    if (escape == std::string_view::npos) return std::nullopt;
    out.push_back(kMeaning[escape]);
  }
  // JSON strings are UTF-8; the parser rejects what is not, so must this.
  if (!valid_utf8(out)) return std::nullopt;
  return out;
}

}  // namespace

Result<std::string> decode_value(std::string_view json_text) {
  if (auto simple = decode_simple_string(json_text)) return std::move(*simple);
  try {
    return decode_bytes(json::parse(json_text));
  } catch (const std::exception& e) {
    return make_error(ErrorCode::corrupt, std::string("undecodable value: ") + e.what());
  }
}

namespace {

// Whether `text` is exactly one JSON string token: quotes at both ends and none unescaped in
// between. Together with the fixed member order of dump() this makes the spans found below
// exact: inside a JSON string every '"' is escaped, so a member separator such as
// ,"value": can only occur between members, never inside a key or value.
bool one_string_token(std::string_view text) {
  if (text.size() < 2 || text.front() != '"' || text.back() != '"') return false;
  std::size_t i = 1;
  while (i < text.size() - 1) {
    if (text[i] == '"') return false;
    i += text[i] == '\\' ? 2 : 1;
  }
  return i == text.size() - 1;
}

// A value's text as encode_value writes it: a string, or {"base64":"..."}.
bool one_value_token(std::string_view text) {
  constexpr std::string_view kOpen = "{\"base64\":";
  if (text.starts_with(kOpen) && text.ends_with('}'))
    return one_string_token(text.substr(kOpen.size(), text.size() - kOpen.size() - 1));
  return one_string_token(text);
}

// The value between `marker` (which ends with "value":) and the next ,"version": in `text`,
// searching from `from`; nullopt unless it is one value token.
std::optional<TextSpan> value_after(std::string_view text, std::string_view marker,
                                    std::size_t* from) {
  const auto at = text.find(marker, *from);
  if (at == std::string_view::npos) return std::nullopt;
  const auto begin = at + marker.size();
  const auto end = text.find(",\"version\":", begin);
  if (end == std::string_view::npos) return std::nullopt;
  *from = end;
  const auto token = text.substr(begin, end - begin);
  if (!one_value_token(token)) return std::nullopt;
  return TextSpan{begin, static_cast<std::uint32_t>(token.size())};
}

}  // namespace

std::vector<std::optional<TextSpan>> locate_values(std::string_view body, const Change& change) {
  // encode_change's op objects: {"create_revision":C,"key":K,"op":"put","value":V,"version":N}
  std::vector<std::optional<TextSpan>> spans(change.events.size());
  std::size_t from = 0;
  for (std::size_t i = 0; i < change.events.size(); ++i) {
    const auto& event = change.events[i];
    if (event.type != Event::Type::put) continue;
    auto span = value_after(body, ",\"op\":\"put\",\"value\":", &from);
    if (!span) return std::vector<std::optional<TextSpan>>(change.events.size());
    auto decoded = decode_value(body.substr(span->offset, span->length));
    if (decoded.ok() && *decoded == event.kv.value) spans[i] = span;
  }
  return spans;
}

SnapshotWriter::SnapshotWriter(std::int64_t revision)
    : out_("{\"revision\":" + std::to_string(revision) + ",\"kvs\":[") {}

TextSpan SnapshotWriter::add(std::string_view key, std::string_view value_json,
                             std::int64_t create_revision, std::int64_t mod_revision,
                             std::int64_t version) {
  // One key per line keeps the file readable and diffable for an operator, and lets
  // scan_snapshot parse one line at a time. The members are in dump()'s (sorted) order, so
  // the line is what dumping the item as a JSON object writes.
  out_ += first_ ? "\n" : ",\n";
  first_ = false;
  out_ += "{\"create_revision\":" + std::to_string(create_revision) +
          ",\"key\":" + encode_value(key) + ",\"mod_revision\":" + std::to_string(mod_revision) +
          ",\"value\":";
  const TextSpan span{out_.size(), static_cast<std::uint32_t>(value_json.size())};
  out_.append(value_json);
  out_ += ",\"version\":" + std::to_string(version) + "}";
  return span;
}

std::string SnapshotWriter::finish() && {
  out_ += "\n]}\n";
  return std::move(out_);
}

std::string encode_snapshot(std::int64_t revision, const std::map<std::string, KeyValue>& kvs) {
  SnapshotWriter writer(revision);
  for (const auto& [key, kv] : kvs)
    writer.add(key, encode_value(kv.value), kv.create_revision, kv.mod_revision, kv.version);
  return std::move(writer).finish();
}

namespace {

// `line`: the item's text, at `offset` in the body, when the body has one item per line.
SnapshotItem snapshot_item(const json& item, std::int64_t revision, std::string_view line,
                           std::uint64_t offset) {
  SnapshotItem out{decode_bytes(item.at("key")),
                   positive(item, "create_revision"),
                   positive(item, "mod_revision"),
                   positive(item, "version"),
                   std::nullopt,
                   {}};
  // A key's version counts its puts since its creation, each at a revision of its own.
  if (out.key.empty() || out.create_revision > out.mod_revision || out.mod_revision > revision ||
      out.version > out.mod_revision - out.create_revision + 1)
    throw std::invalid_argument("key " + out.key + " has impossible revisions");
  const json& value = item.at("value");
  std::size_t from = 0;
  if (!line.empty() && item.size() == 5 && line.starts_with("{\"create_revision\":")) {
    if (auto span = value_after(line, ",\"value\":", &from)) {
      if (!value.is_string()) decode_bytes(value);  // base64 that does not decode is damage
      out.value_text = TextSpan{offset + span->offset, span->length};
      return out;
    }
  }
  out.value = decode_bytes(value);
  return out;
}

// The layout SnapshotWriter writes, one item per line, parsed line by line: a JSON tree of a
// whole 65,536-allocation store is several times its text, and start-up would hold both.
// False when the body is laid out differently (then the caller parses it whole).
bool scan_snapshot_lines(std::string_view body, std::int64_t* revision,
                         const std::function<bool(SnapshotItem&&)>& on_item) {
  constexpr std::string_view kHead = "{\"revision\":";
  constexpr std::string_view kKvs = ",\"kvs\":[";
  constexpr std::string_view kTail = "\n]}\n";
  if (!body.starts_with(kHead) || !body.ends_with(kTail)) return false;
  const char* p = body.data() + kHead.size();
  const char* end = body.data() + body.size();
  auto [after, ec] = std::from_chars(p, end, *revision);
  if (ec != std::errc() || after == p) return false;
  std::string_view rest(after, static_cast<std::size_t>(end - after));
  if (!rest.starts_with(kKvs)) return false;
  rest.remove_prefix(kKvs.size());
  rest.remove_suffix(kTail.size());
  if (*revision < 0) throw std::invalid_argument("negative revision");
  // Check the layout of every line before the first call, so that on_item sees each key
  // once even when the caller has to fall back to parsing the body whole.
  for (std::string_view left = rest; !left.empty();) {
    if (left.front() != '\n') return false;
    auto newline = left.find('\n', 1);
    if (newline == std::string_view::npos) break;
    if (left[newline - 1] != ',') return false;
    left.remove_prefix(newline);
  }
  while (!rest.empty()) {
    // JSON escapes newlines inside strings, so an item never spans lines.
    rest.remove_prefix(1);
    auto newline = rest.find('\n');
    std::string_view line = rest.substr(0, newline);
    rest = newline == std::string_view::npos ? std::string_view() : rest.substr(newline);
    if (!rest.empty()) line.remove_suffix(1);
    const auto offset = static_cast<std::uint64_t>(line.data() - body.data());
    auto item = snapshot_item(json::parse(line), *revision, line, offset);
    if (!on_item(std::move(item)))
      throw std::invalid_argument("duplicate key " + std::string(line));
  }
  return true;
}

}  // namespace

bool SnapshotLineReader::feed(std::string_view piece) {
  if (stopped_) return false;
  carry_.append(piece);
  std::size_t start = 0;
  for (std::size_t newline; (newline = carry_.find('\n', start)) != std::string::npos;
       start = newline + 1) {
    if (!line(std::string_view(carry_).substr(start, newline - start), carry_offset_ + start)) {
      stopped_ = true;
      return false;
    }
  }
  carry_.erase(0, start);
  carry_offset_ += start;
  return true;
}

// One line of "{"revision":R,"kvs":[", item lines separated by commas, "]}".
bool SnapshotLineReader::line(std::string_view text, std::uint64_t offset) {
  switch (state_) {
    case State::head: {
      constexpr std::string_view kHead = "{\"revision\":";
      constexpr std::string_view kKvs = ",\"kvs\":[";
      if (!text.starts_with(kHead) || !text.ends_with(kKvs)) return false;
      const char* p = text.data() + kHead.size();
      const char* end = text.data() + text.size() - kKvs.size();
      auto [after, ec] = std::from_chars(p, end, revision_);
      if (ec != std::errc() || after != end || p == end || revision_ < 0) return false;
      state_ = State::items;
      return true;
    }
    case State::items: {
      if (text == "]}") {
        state_ = State::closed;
        return !(have_item_ && item_had_comma_);
      }
      if (have_item_ && !item_had_comma_) return false;
      item_had_comma_ = text.ends_with(',');
      if (item_had_comma_) text.remove_suffix(1);
      have_item_ = true;
      try {
        return on_item_(snapshot_item(json::parse(text), revision_, text, offset));
      } catch (const std::exception&) {
        return false;
      }
    }
    case State::closed:
      return false;
  }
  return false;
}

Status scan_snapshot(std::string_view body, std::int64_t* revision,
                     const std::function<bool(SnapshotItem&& item)>& on_item) {
  try {
    if (scan_snapshot_lines(body, revision, on_item)) return {};
    const json j = json::parse(body);
    *revision = j.at("revision").get<std::int64_t>();
    if (*revision < 0) throw std::invalid_argument("negative revision");
    for (const auto& item : j.at("kvs"))
      if (!on_item(snapshot_item(item, *revision, {}, 0)))
        throw std::invalid_argument("duplicate key " + item.at("key").dump());
    return {};
  } catch (const std::exception& e) {
    return make_error(ErrorCode::corrupt, std::string("undecodable snapshot: ") + e.what());
  }
}

Result<SnapshotData> decode_snapshot(std::string_view body) {
  SnapshotData data;
  IPF_TRY(scan_snapshot(body, &data.revision, [&](SnapshotItem&& item) {
    std::string value = std::move(item.value);
    if (item.value_text) {
      auto decoded = decode_value(body.substr(item.value_text->offset, item.value_text->length));
      if (!decoded.ok()) throw std::invalid_argument(decoded.error().message);
      value = std::move(*decoded);
    }
    auto key = item.key;
    return data.kvs
        .emplace(std::move(key), KeyValue{std::move(item.key), std::move(value),
                                          item.create_revision, item.mod_revision, item.version})
        .second;
  }));
  return data;
}

}  // namespace ipfence::store

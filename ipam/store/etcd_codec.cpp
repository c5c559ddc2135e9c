#include "ipam/store/etcd_codec.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

namespace ipfence::store::etcd {
namespace {

using nlohmann::json;

constexpr std::string_view kBase64 =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// gRPC status codes that etcd puts in "code".
enum GrpcCode : int {
  kInvalidArgument = 3,
  kDeadlineExceeded = 4,
  kNotFound = 5,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kFailedPrecondition = 9,
  kOutOfRange = 11,
  kUnavailable = 14,
  kUnauthenticated = 16,
};

Error bad_answer(std::string_view what) {
  return make_error(ErrorCode::unavailable,
                    "etcd answered something that is not a v3 gateway reply: " + std::string(what));
}

// The gateway writes int64 fields as strings and leaves out zeros; accept numbers too.
std::int64_t int64_field(const json& object, const char* name) {
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) return 0;
  if (it->is_number_integer()) return it->get<std::int64_t>();
  if (it->is_string()) return std::stoll(it->get<std::string>());
  throw std::invalid_argument(std::string(name) + " is not an integer");
}

bool bool_field(const json& object, const char* name) {
  auto it = object.find(name);
  return it != object.end() && it->is_boolean() && it->get<bool>();
}

std::string bytes_field(const json& object, const char* name) {
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) return {};
  auto decoded = base64_decode(it->get<std::string>());
  if (!decoded) throw std::invalid_argument(std::string(name) + " is not base64");
  return *decoded;
}

std::string strip_prefix(std::string key, std::string_view prefix) {
  if (key.compare(0, prefix.size(), prefix) != 0)
    throw std::invalid_argument("key outside the store prefix " + std::string(prefix));
  return key.substr(prefix.size());
}

KeyValue kv_from(const json& kv, std::string_view prefix) {
  return KeyValue{strip_prefix(bytes_field(kv, "key"), prefix), bytes_field(kv, "value"),
                  int64_field(kv, "create_revision"), int64_field(kv, "mod_revision"),
                  int64_field(kv, "version")};
}

std::int64_t header_revision(const json& answer) {
  auto it = answer.find("header");
  if (it == answer.end() || !it->is_object()) throw std::invalid_argument("no header");
  return int64_field(*it, "revision");
}

json compare_json(const Compare& compare, std::string_view prefix) {
  const bool version = compare.target == Compare::Target::version;
  return json{{"key", base64_encode(std::string(prefix) + compare.key)},
              {"result", "EQUAL"},
              {"target", version ? "VERSION" : "MOD"},
              {version ? "version" : "mod_revision", std::to_string(compare.value)}};
}

json op_json(const Op& op, std::string_view prefix) {
  const auto key = base64_encode(std::string(prefix) + op.key);
  if (op.type == Op::Type::put)
    return json{{"request_put", {{"key", key}, {"value", base64_encode(op.value)}}}};
  return json{{"request_delete_range", {{"key", key}}}};
}

// The distinct compared keys, in first-seen order: the failure branch reads each once.
std::vector<std::string> compared_keys(const Txn& txn) {
  std::vector<std::string> keys;
  for (const auto& compare : txn.compares)
    if (std::find(keys.begin(), keys.end(), compare.key) == keys.end()) keys.push_back(compare.key);
  return keys;
}

template <typename F>
auto parsing(std::string_view body, F&& f) -> decltype(f(json())) {
  try {
    return f(json::parse(body));
  } catch (const std::exception& e) {
    return bad_answer(std::string(e.what()) + " in " + std::string(body.substr(0, 200)));
  }
}

}  // namespace

std::string base64_encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < in.size(); i += 3) {
    std::uint32_t n = static_cast<std::uint32_t>(static_cast<unsigned char>(in[i])) << 16;
    if (i + 1 < in.size())
      n |= static_cast<std::uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8;
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
  out.reserve(in.size() / 4 * 3);
  for (std::size_t i = 0; i < in.size(); i += 4) {
    std::uint32_t n = 0;
    int pad = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      const char c = in[i + k];
      if (c == '=' && i + 4 == in.size() && k >= 2) {
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

std::string prefix_end(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(end.back());
    if (last < 0xff) {
      ++last;
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');
}

std::string range_body(const RangeRequest& request) {
  json body{{"key", base64_encode(request.key)}};
  if (!request.range_end.empty()) body["range_end"] = base64_encode(request.range_end);
  if (request.revision > 0) body["revision"] = std::to_string(request.revision);
  if (request.limit > 0) body["limit"] = std::to_string(request.limit);
  if (request.count_only) body["count_only"] = true;
  return body.dump();
}

std::string txn_body(const Txn& txn, std::string_view prefix) {
  json compares = json::array(), success = json::array(), failure = json::array();
  for (const auto& compare : txn.compares) compares.push_back(compare_json(compare, prefix));
  for (const auto& op : txn.ops) success.push_back(op_json(op, prefix));
  for (const auto& key : compared_keys(txn))
    failure.push_back(json{{"request_range", {{"key", base64_encode(std::string(prefix) + key)}}}});
  return json{{"compare", compares}, {"success", success}, {"failure", failure}}.dump();
}

std::size_t txn_failure_ops(const Txn& txn) {
  return compared_keys(txn).size();
}

std::string watch_body(std::string_view key, std::string_view range_end,
                       std::int64_t start_revision) {
  json create{{"key", base64_encode(key)}, {"progress_notify", true}};
  if (!range_end.empty()) create["range_end"] = base64_encode(range_end);
  if (start_revision > 0) create["start_revision"] = std::to_string(start_revision);
  return json{{"create_request", create}}.dump();
}

std::string compaction_body(std::int64_t revision) {
  return json{{"revision", std::to_string(revision)}}.dump();
}

Result<RangeResponse> parse_range(std::string_view body, std::string_view prefix) {
  return parsing(body, [&](const json& answer) -> Result<RangeResponse> {
    RangeResponse out;
    out.revision = header_revision(answer);
    out.more = bool_field(answer, "more");
    out.count = int64_field(answer, "count");
    if (auto kvs = answer.find("kvs"); kvs != answer.end())
      for (const auto& kv : *kvs) out.kvs.push_back(kv_from(kv, prefix));
    return out;
  });
}

Result<TxnResult> parse_txn(std::string_view body, const Txn& txn, std::string_view prefix) {
  return parsing(body, [&](const json& answer) -> Result<TxnResult> {
    TxnResult out;
    out.revision = header_revision(answer);
    out.succeeded = bool_field(answer, "succeeded");
    if (out.succeeded) return out;
    // What the compares saw: every compared key that exists, from the failure ranges.
    std::map<std::string, KeyValue> seen;
    if (auto responses = answer.find("responses"); responses != answer.end())
      for (const auto& response : *responses) {
        auto range = response.find("response_range");
        if (range == response.end()) continue;
        if (auto kvs = range->find("kvs"); kvs != range->end())
          for (const auto& kv : *kvs) {
            auto parsed = kv_from(kv, prefix);
            seen[parsed.key] = std::move(parsed);
          }
      }
    for (const auto& compare : txn.compares) {
      std::int64_t actual = 0;  // absent: version 0, mod_revision 0
      if (auto it = seen.find(compare.key); it != seen.end())
        actual = compare.target == Compare::Target::version ? it->second.version
                                                            : it->second.mod_revision;
      if (actual != compare.value) out.failed_keys.push_back(compare.key);
    }
    return out;
  });
}

Result<std::int64_t> parse_header_revision(std::string_view body) {
  return parsing(
      body, [](const json& answer) -> Result<std::int64_t> { return header_revision(answer); });
}

Result<WatchMessage> parse_watch_line(std::string_view line, std::string_view prefix) {
  return parsing(line, [&](const json& message) -> Result<WatchMessage> {
    // The gateway ends a broken stream with {"error": {"grpc_code", "message", ...}}.
    if (auto error = message.find("error"); error != message.end()) {
      std::string text =
          error->is_object() ? error->value("message", error->dump()) : error->dump();
      return make_error(ErrorCode::unavailable, "etcd ended the watch: " + text);
    }
    auto result = message.find("result");
    if (result == message.end() || !result->is_object())
      throw std::invalid_argument("watch message without result");
    WatchMessage out;
    out.revision = header_revision(*result);
    out.compact_revision = int64_field(*result, "compact_revision");
    if (bool_field(*result, "canceled")) {
      out.kind =
          out.compact_revision > 0 ? WatchMessage::Kind::compacted : WatchMessage::Kind::canceled;
      out.reason = result->value("cancel_reason", "");
      return out;
    }
    if (bool_field(*result, "created")) {
      out.kind = WatchMessage::Kind::created;
      return out;
    }
    if (auto events = result->find("events"); events != result->end())
      for (const auto& event : *events) {
        const bool del = event.value("type", "PUT") == "DELETE";
        auto kv = kv_from(event.at("kv"), prefix);
        if (del) kv = KeyValue{std::move(kv.key), {}, 0, kv.mod_revision, 0};
        out.events.push_back(Event{del ? Event::Type::del : Event::Type::put, std::move(kv)});
      }
    out.kind = out.events.empty() ? WatchMessage::Kind::progress : WatchMessage::Kind::events;
    return out;
  });
}

Error parse_error(long http_status, std::string_view body) {
  int code = 0;
  std::string message;
  try {
    auto answer = json::parse(body);
    code = answer.value("code", 0);
    message = answer.value("message", answer.value("error", ""));
  } catch (const std::exception&) {
  }
  if (message.empty())
    message = "HTTP " + std::to_string(http_status) + ": " + std::string(body.substr(0, 200));
  ErrorCode kind = ErrorCode::internal;
  switch (code) {
    case kOutOfRange:
      kind = message.find("compacted") != std::string::npos ? ErrorCode::compacted
                                                            : ErrorCode::invalid_argument;
      break;
    case kInvalidArgument:
    case kFailedPrecondition:
    case kPermissionDenied:
    case kUnauthenticated:
      kind = ErrorCode::invalid_argument;
      break;
    case kNotFound:
      kind = ErrorCode::not_found;
      break;
    case kDeadlineExceeded:
    case kResourceExhausted:
    case kUnavailable:
      kind = ErrorCode::unavailable;
      break;
    default:
      // No gRPC code: not etcd's gateway (a proxy, a wrong port) or an HTTP-level failure.
      if (code == 0) kind = http_status >= 500 ? ErrorCode::unavailable : ErrorCode::internal;
  }
  return make_error(kind, message);
}

}  // namespace ipfence::store::etcd

// Strict parsing of user manifests. Two stages:
//  1. text -> one nlohmann::json per document. JSON goes through nlohmann; YAML goes through
//     yaml-cpp's event parser straight into JSON (YamlToJson below), resolving plain scalars
//     with the YAML 1.2 JSON-compatible rules: quoted text is always a string, `true`/`false`
//     are booleans, numbers are numbers, `null`/`~`/empty are null.
//  2. json -> typed object, checking every field's type, unknown fields with a suggestion, and
//     metadata.name. Every message names the document, the field path and the value.
#include "ipam/manifest.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#include "ipam/utf8.h"

namespace ipfence::ipam {

using nlohmann::json;

namespace {

// Manifests are shallow (a LabelSelector is the deepest typed part, at 5 levels); the limits
// only stop hostile input from exhausting the stack (recursive json copies) or memory (alias
// bombs: "a: &a [x,x], b: &b [*a,*a], ...").
constexpr std::size_t kMaxDepth = 64;
constexpr std::size_t kMaxValues = 1'000'000;
constexpr std::size_t kMaxShown = 120;

// A value as JSON for messages, cut short when long.
std::string show(const json& value) {
  std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() <= kMaxShown) return text;
  std::size_t cut = kMaxShown - 3;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return text.substr(0, cut) + "...";
}

std::string lowercase(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Stage 1: YAML events -> JSON.

// Resolves an untagged plain scalar (YAML 1.2 core schema, minus .inf/.nan which JSON cannot
// carry: those stay strings).
json resolve_plain(const std::string& text) {
  if (text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL") {
    return nullptr;
  }
  if (text == "true" || text == "True" || text == "TRUE") return true;
  if (text == "false" || text == "False" || text == "FALSE") return false;

  const char* begin = text.data();
  const char* end = begin + text.size();
  const bool negative = *begin == '-';
  const char* digits = (*begin == '-' || *begin == '+') ? begin + 1 : begin;
  if (digits == end) return text;

  auto all = [&](const char* from, auto pred) {
    return from != end && std::all_of(from, end, [&](char c) { return pred(c); });
  };
  auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  // Hex and octal, unsigned only (YAML 1.2 core: 0x1F, 0o17).
  if (digits == begin && text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'o')) {
    const int base = text[1] == 'x' ? 16 : 8;
    std::uint64_t value = 0;
    auto [ptr, ec] = std::from_chars(begin + 2, end, value, base);
    if (ec == std::errc() && ptr == end) return value;
    return text;
  }
  if (all(digits, is_digit)) {
    if (negative) {
      std::int64_t value = 0;
      auto [ptr, ec] = std::from_chars(begin, end, value);
      if (ec == std::errc() && ptr == end) return value;
    } else {
      std::uint64_t value = 0;
      auto [ptr, ec] = std::from_chars(digits, end, value);
      if (ec == std::errc() && ptr == end) return value;
    }
  }
  // Float: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
  const char* p = digits;
  std::size_t int_digits = 0, frac_digits = 0;
  while (p != end && is_digit(*p)) ++p, ++int_digits;
  if (p != end && *p == '.') {
    ++p;
    while (p != end && is_digit(*p)) ++p, ++frac_digits;
  }
  if (int_digits == 0 && frac_digits == 0) return text;
  if (p != end && (*p == 'e' || *p == 'E')) {
    ++p;
    if (p != end && (*p == '-' || *p == '+')) ++p;
    if (!all(p, is_digit)) return text;
    p = end;
  }
  if (p != end) return text;
  double value = 0;
  // from_chars takes no leading '+'; parse the magnitude and apply the sign.
  auto [ptr, ec] = std::from_chars(digits, end, value);
  if (ec != std::errc() || ptr != end || !std::isfinite(value)) return text;
  return negative ? -value : value;
}

json resolve_scalar(const std::string& tag, const std::string& text) {
  if (tag == "?") return resolve_plain(text);
  static const std::string kCore = "tag:yaml.org,2002:";
  if (tag == kCore + "null" || tag == kCore + "bool" || tag == kCore + "int" ||
      tag == kCore + "float") {
    return resolve_plain(text);
  }
  return text;  // quoted ("!"), !!str, block scalars, and tags we do not know
}

class YamlToJson : public YAML::EventHandler {
 public:
  // The finished document (null for an empty one).
  json take() { return std::move(root_); }
  const YAML::Mark& document_start() const { return document_start_; }

  void OnDocumentStart(const YAML::Mark& mark) override {
    document_start_ = mark;
    root_ = nullptr;
    stack_.clear();
    anchors_.clear();
    values_ = 0;
  }
  void OnDocumentEnd() override {}

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    add(nullptr, anchor, mark, 1);
  }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    auto it = anchors_.find(anchor);
    if (it == anchors_.end()) {
      throw YAML::ParserException(mark, "an alias refers to the node that contains it");
    }
    if (expecting_key()) {
      const json& key = it->second.value;
      if (key.is_object() || key.is_array() || key.is_null()) {
        throw YAML::ParserException(mark, "a mapping key must be a scalar");
      }
      set_key(key.is_string() ? key.get<std::string>() : key.dump(), mark);
      return;
    }
    add(json(it->second.value), 0, mark, it->second.values);
  }

  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    if (!valid_utf8(value)) throw YAML::ParserException(mark, "invalid UTF-8 in a scalar");
    if (expecting_key()) {
      // Keys are always strings, whatever they look like (`true:`, `1:`), as in Kubernetes.
      if (anchor != 0) anchors_[anchor] = {json(value), 1};
      set_key(value, mark);
      return;
    }
    add(resolve_scalar(tag, value), anchor, mark, 1);
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    open(json::array(), anchor, mark);
  }
  void OnSequenceEnd() override { close(); }

  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    open(json::object(), anchor, mark);
  }
  void OnMapEnd() override { close(); }

 private:
  struct Frame {
    json value;  // array or object under construction
    YAML::anchor_t anchor = 0;
    YAML::Mark mark;
    std::size_t values_before = 0;
    std::optional<std::string> key;  // object: the key waiting for its value
    YAML::Mark key_mark;
  };
  struct Anchored {
    json value;
    std::size_t values = 0;  // how many values a copy adds (alias bomb accounting)
  };

  bool expecting_key() const {
    return !stack_.empty() && stack_.back().value.is_object() && !stack_.back().key;
  }

  void set_key(std::string key, const YAML::Mark& mark) {
    Frame& top = stack_.back();
    if (top.value.contains(key)) {
      throw YAML::ParserException(mark, "duplicate key \"" + key + "\"");
    }
    top.key = std::move(key);
    top.key_mark = mark;
  }

  void open(json value, YAML::anchor_t anchor, const YAML::Mark& mark) {
    if (stack_.size() >= kMaxDepth) {
      throw YAML::ParserException(mark,
                                  "nested deeper than " + std::to_string(kMaxDepth) + " levels");
    }
    stack_.push_back(Frame{std::move(value), anchor, mark, values_, std::nullopt, {}});
  }

  void close() {
    Frame frame = std::move(stack_.back());
    stack_.pop_back();
    add(std::move(frame.value), frame.anchor, frame.mark, values_ - frame.values_before + 1);
  }

  void add(json value, YAML::anchor_t anchor, const YAML::Mark& mark, std::size_t count) {
    values_ += count;
    if (values_ > kMaxValues) {
      throw YAML::ParserException(mark, "document too large: more than " +
                                            std::to_string(kMaxValues) +
                                            " values (counting alias expansions)");
    }
    if (anchor != 0) anchors_[anchor] = {value, count};
    if (stack_.empty()) {
      root_ = std::move(value);
      return;
    }
    Frame& top = stack_.back();
    if (!top.value.is_array() && !top.key) {
      // Scalar keys never get here (OnScalar). A collection key is only reported once it is
      // complete, so that a syntax error inside it (an unclosed "{") is reported instead.
      throw YAML::ParserException(
          mark, value.is_null() ? "a mapping key is empty" : "a mapping key must be a scalar");
    }
    if (top.value.is_array()) {
      top.value.push_back(std::move(value));
    } else {
      top.value[*top.key] = std::move(value);
      top.key.reset();
    }
  }

  json root_;
  YAML::Mark document_start_;
  std::vector<Frame> stack_;
  std::unordered_map<YAML::anchor_t, Anchored> anchors_;
  std::size_t values_ = 0;
};

bool json_depth_exceeds(const json& value, std::size_t depth) {
  if (depth > kMaxDepth) return true;
  if (value.is_object() || value.is_array()) {
    for (const auto& child : value) {
      if (json_depth_exceeds(child, depth + 1)) return true;
    }
  }
  return false;
}

struct RawDocument {
  json value;
  int index;
};

Result<std::vector<RawDocument>> split_documents(std::string_view text) {
  std::vector<RawDocument> docs;
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return docs;
  if (text[first] == '{' || text[first] == '[') {
    // JSON (kubectl's -o json). If it is not valid JSON it may still be YAML flow style.
    json value = json::parse(text, nullptr, false);
    if (!value.is_discarded()) {
      if (json_depth_exceeds(value, 0)) {
        return make_error(ErrorCode::invalid_argument, "document 0: nested deeper than " +
                                                           std::to_string(kMaxDepth) + " levels");
      }
      docs.push_back({std::move(value), 0});
      return docs;
    }
  }
  std::istringstream in{std::string(text)};
  YAML::Parser parser(in);
  YamlToJson builder;
  int index = 0;
  try {
    int previous_start = -1;
    for (;; ++index) {
      if (!parser.HandleNextDocument(builder)) break;
      // yaml-cpp 0.7 does not consume some stray text after a flow collection ("{a: 1}, x")
      // and reports an endless run of empty documents there: no progress means garbage.
      const YAML::Mark start = builder.document_start();
      if (start.pos == previous_start) {
        --index;  // the stuck document is the previous one
        throw YAML::ParserException(
            start, "unexpected text; expected a new document (\"---\") or the end of the input");
      }
      previous_start = start.pos;
      docs.push_back({builder.take(), index});
    }
  } catch (const YAML::Exception& e) {
    std::string where;
    if (!e.mark.is_null()) {
      where = " at line " + std::to_string(e.mark.line + 1) + ", column " +
              std::to_string(e.mark.column + 1);
    }
    return make_error(ErrorCode::invalid_argument, "document " + std::to_string(index) +
                                                       ": invalid YAML" + where + ": " + e.msg);
  }
  return docs;
}

// ---------------------------------------------------------------------------------------------
// Stage 2: json -> typed objects.

std::string child(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}
std::string index_path(const std::string& path, std::size_t i) {
  return path + "[" + std::to_string(i) + "]";
}
std::string key_path(const std::string& path, const std::string& key) {
  return path + "[" + key + "]";
}

// The document being parsed: builds messages "document 1 (SpiderIPPool x): path: problem".
class Doc {
 public:
  explicit Doc(std::string where) : where_(std::move(where)) {}
  void set_subject(const char* kind, const std::string& name) {
    subject_ = std::string(" (") + kind + (name.empty() ? "" : " " + name) + ")";
  }
  Error fail(const std::string& path, const std::string& problem) const {
    return make_error(ErrorCode::invalid_argument,
                      where_ + subject_ + ": " + path + ": " + problem);
  }
  Error fail(const std::string& problem) const {
    return make_error(ErrorCode::invalid_argument, where_ + subject_ + ": " + problem);
  }
  Error type(const std::string& path, std::string_view expected, const json& got) const {
    return fail(path, "expected " + std::string(expected) + ", got " + show(got));
  }

 private:
  std::string where_;
  std::string subject_;
};

// A field Spiderpool has and ipfence does not implement: refused with a reason, not ignored.
struct Unsupported {
  std::string_view name;
  std::string_view why;
};

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

Status check_fields(const Doc& doc, const json& object, const std::string& path,
                    std::initializer_list<std::string_view> known,
                    std::initializer_list<Unsupported> unsupported = {},
                    std::initializer_list<std::string_view> ignored = {}) {
  auto in = [](std::initializer_list<std::string_view> list, const std::string& key) {
    return std::find(list.begin(), list.end(), key) != list.end();
  };
  for (const auto& [key, value] : object.items()) {
    if (in(known, key) || in(ignored, key)) continue;
    for (const auto& u : unsupported) {
      if (u.name == key) return doc.fail(child(path, key), std::string(u.why));
    }
    std::string message = "unknown field \"" + child(path, key) + "\"";
    // Suggest the closest known field: same letters in another case, or a typo or two away.
    const std::string lower = lowercase(key);
    std::string_view best;
    std::size_t best_distance = lower.size() >= 4 ? 3 : 1;
    for (std::string_view candidate : known) {
      const std::size_t d = edit_distance(lower, lowercase(candidate));
      if (d < best_distance) best = candidate, best_distance = d;
    }
    if (!best.empty()) message += "; did you mean \"" + child(path, best) + "\"?";
    return doc.fail(message);
  }
  return {};
}

// Readers: an absent or null field leaves `out` unchanged (Kubernetes' omitempty).
const json* find(const json& object, const char* key) {
  auto it = object.find(key);
  return (it == object.end() || it->is_null()) ? nullptr : &*it;
}

Status read_string(const Doc& doc, const json& object, const char* key, const std::string& path,
                   std::string& out) {
  const json* v = find(object, key);
  if (!v) return {};
  if (!v->is_string()) return doc.type(child(path, key), "a string", *v);
  out = v->get<std::string>();
  return {};
}

Status read_opt_string(const Doc& doc, const json& object, const char* key, const std::string& path,
                       std::optional<std::string>& out) {
  const json* v = find(object, key);
  if (!v) return {};
  if (!v->is_string()) return doc.type(child(path, key), "a string", *v);
  out = v->get<std::string>();
  return {};
}

Status read_bool(const Doc& doc, const json& object, const char* key, const std::string& path,
                 bool& out) {
  const json* v = find(object, key);
  if (!v) return {};
  if (!v->is_boolean()) return doc.type(child(path, key), "true or false", *v);
  out = v->get<bool>();
  return {};
}

Status read_int(const Doc& doc, const json& object, const char* key, const std::string& path,
                std::optional<int>& out) {
  const json* v = find(object, key);
  if (!v) return {};
  const bool fits = (v->is_number_unsigned() && v->get<std::uint64_t>() <= INT_MAX) ||
                    (v->is_number_integer() && !v->is_number_unsigned() &&
                     v->get<std::int64_t>() >= INT_MIN && v->get<std::int64_t>() <= INT_MAX);
  if (!fits) return doc.type(child(path, key), "an integer", *v);
  out = v->get<int>();
  return {};
}

Status read_strings(const Doc& doc, const json& object, const char* key, const std::string& path,
                    std::vector<std::string>& out) {
  const json* v = find(object, key);
  if (!v) return {};
  const std::string here = child(path, key);
  if (!v->is_array()) return doc.type(here, "a list of strings", *v);
  out.clear();
  for (std::size_t i = 0; i < v->size(); ++i) {
    const json& item = (*v)[i];
    if (!item.is_string()) return doc.type(index_path(here, i), "a string", item);
    out.push_back(item.get<std::string>());
  }
  return {};
}

Status read_string_map(const Doc& doc, const json& object, const char* key, const std::string& path,
                       std::map<std::string, std::string>& out) {
  const json* v = find(object, key);
  if (!v) return {};
  const std::string here = child(path, key);
  if (!v->is_object()) return doc.type(here, "a map of strings", *v);
  out.clear();
  for (const auto& [k, item] : v->items()) {
    if (!item.is_string()) return doc.type(key_path(here, k), "a string", item);
    out[k] = item.get<std::string>();
  }
  return {};
}

// The object at `key`, or nullptr when absent or null.
Result<const json*> read_object(const Doc& doc, const json& object, const char* key,
                                const std::string& path) {
  const json* v = find(object, key);
  if (v && !v->is_object()) return doc.type(child(path, key), "an object", *v);
  return v;
}

// Kubernetes LabelSelector: {matchLabels: {k: v}, matchExpressions: [{key, operator, values}]}.
Status read_selector(const Doc& doc, const json& spec, const char* key, json& out) {
  const json* v = find(spec, key);
  if (!v) return {};
  const std::string path = child("spec", key);
  if (!v->is_object()) {
    return doc.type(path, "a label selector (an object with matchLabels or matchExpressions)", *v);
  }
  IPF_TRY(check_fields(doc, *v, path, {"matchLabels", "matchExpressions"}));
  std::map<std::string, std::string> labels;
  IPF_TRY(read_string_map(doc, *v, "matchLabels", path, labels));
  if (const json* exprs = find(*v, "matchExpressions")) {
    const std::string list_path = child(path, "matchExpressions");
    if (!exprs->is_array()) return doc.type(list_path, "a list of requirements", *exprs);
    for (std::size_t i = 0; i < exprs->size(); ++i) {
      const json& e = (*exprs)[i];
      const std::string at = index_path(list_path, i);
      if (!e.is_object()) return doc.type(at, "an object with key, operator and values", e);
      IPF_TRY(check_fields(doc, e, at, {"key", "operator", "values"}));
      std::string req_key, op;
      std::vector<std::string> values;
      IPF_TRY(read_string(doc, e, "key", at, req_key));
      IPF_TRY(read_string(doc, e, "operator", at, op));
      IPF_TRY(read_strings(doc, e, "values", at, values));
      if (req_key.empty()) return doc.fail(child(at, "key"), "required field is missing");
      if (!find(e, "operator")) return doc.fail(child(at, "operator"), "required field is missing");
      const bool set_op = op == "In" || op == "NotIn";
      if (!set_op && op != "Exists" && op != "DoesNotExist") {
        return doc.type(child(at, "operator"), "In, NotIn, Exists or DoesNotExist", op);
      }
      if (set_op && values.empty()) {
        return doc.fail(child(at, "values"), "operator " + op + " needs at least one value");
      }
      if (!set_op && !values.empty()) {
        return doc.fail(child(at, "values"),
                        "operator " + op + " takes no values, got " + show(e.at("values")));
      }
    }
  }
  out = *v;
  return {};
}

// Kept-as-is JSON must survive a dump and re-parse unchanged.
Status check_plain_json(const Doc& doc, const json& value, const std::string& path,
                        std::size_t depth) {
  if (depth > kMaxDepth) return doc.fail(path, "nested too deeply");
  if (value.is_number_float() && !std::isfinite(value.get<double>())) {
    return doc.fail(path, "numbers must be finite");
  }
  if (value.is_object()) {
    for (const auto& [k, v] : value.items())
      IPF_TRY(check_plain_json(doc, v, key_path(path, k), depth + 1));
  } else if (value.is_array()) {
    for (std::size_t i = 0; i < value.size(); ++i) {
      IPF_TRY(check_plain_json(doc, value[i], index_path(path, i), depth + 1));
    }
  }
  return {};
}

std::optional<std::string> dns1123_label_problem(std::string_view name) {
  if (name.size() > 63) return "must be no more than 63 characters";
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  const bool ok =
      !name.empty() && alnum(name.front()) && alnum(name.back()) &&
      std::all_of(name.begin(), name.end(), [&](char c) { return alnum(c) || c == '-'; });
  if (ok) return std::nullopt;
  return "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
         "and must start and end with an alphanumeric character";
}

Status read_metadata(Doc& doc, const KindInfo& info, const json& document, ObjectMeta& meta) {
  IPF_ASSIGN_OR_RETURN(const json* m, read_object(doc, document, "metadata", ""));
  static const json kEmpty = json::object();
  if (!m) m = &kEmpty;
  const std::string path = "metadata";
  IPF_TRY(read_string(doc, *m, "name", path, meta.name));
  if (meta.name.empty()) {
    return doc.fail("metadata.name", "required field is missing; every object needs a name");
  }
  if (auto problem = dns1123_subdomain_problem(meta.name)) {
    return doc.fail("metadata.name", show(meta.name) + " is not a valid name: " + *problem);
  }
  doc.set_subject(info.name, meta.name);
  // What kubectl and the API server add to objects; harmless to echo back, so accepted.
  IPF_TRY(check_fields(
      doc, *m, path, {"name", "namespace", "uid", "creationTimestamp", "labels", "annotations"}, {},
      {"resourceVersion", "generation", "managedFields", "ownerReferences", "finalizers",
       "deletionTimestamp", "deletionGracePeriodSeconds", "generateName", "selfLink"}));
  IPF_TRY(read_string(doc, *m, "namespace", path, meta.namespace_));
  if (!meta.namespace_.empty()) {
    if (!info.namespaced) {
      return doc.fail("metadata.namespace", std::string(info.name) +
                                                " is cluster-scoped and has no namespace; remove "
                                                "metadata.namespace, got " +
                                                show(meta.namespace_));
    }
    if (auto problem = dns1123_label_problem(meta.namespace_)) {
      return doc.fail("metadata.namespace",
                      show(meta.namespace_) + " is not a valid namespace: " + *problem);
    }
  } else if (info.namespaced) {
    meta.namespace_ = "default";  // as kubectl without -n
  }
  IPF_TRY(read_string(doc, *m, "uid", path, meta.uid));
  IPF_TRY(read_string(doc, *m, "creationTimestamp", path, meta.creation_timestamp));
  IPF_TRY(read_string_map(doc, *m, "labels", path, meta.labels));
  IPF_TRY(read_string_map(doc, *m, "annotations", path, meta.annotations));
  return {};
}

Status read_pool_spec(const Doc& doc, const json& s, IpPoolSpec& spec) {
  const std::string p = "spec";
  IPF_TRY(check_fields(doc, s, p,
                       {"ipVersion", "subnet", "ips", "excludeIPs", "gateway", "routes",
                        "podAffinity", "namespaceAffinity", "nodeAffinity", "namespaceName",
                        "nodeName", "multusName", "default", "disable"},
                       {{"vlan",
                         "deprecated in Spiderpool and not used by ipfence; remove it and set "
                         "spec.macvlan.vlanID in the SpiderMultusConfig instead"}}));
  IPF_TRY(read_int(doc, s, "ipVersion", p, spec.ip_version));
  IPF_TRY(read_string(doc, s, "subnet", p, spec.subnet));
  IPF_TRY(read_strings(doc, s, "ips", p, spec.ips));
  IPF_TRY(read_strings(doc, s, "excludeIPs", p, spec.exclude_ips));
  IPF_TRY(read_opt_string(doc, s, "gateway", p, spec.gateway));
  if (const json* routes = find(s, "routes")) {
    if (!routes->is_array()) return doc.type("spec.routes", "a list of {dst, gw}", *routes);
    for (std::size_t i = 0; i < routes->size(); ++i) {
      const json& r = (*routes)[i];
      const std::string at = index_path("spec.routes", i);
      if (!r.is_object()) return doc.type(at, "an object with dst and gw", r);
      IPF_TRY(check_fields(doc, r, at, {"dst", "gw"}));
      Route route;
      IPF_TRY(read_string(doc, r, "dst", at, route.dst));
      IPF_TRY(read_string(doc, r, "gw", at, route.gw));
      if (!find(r, "dst")) return doc.fail(child(at, "dst"), "required field is missing");
      if (!find(r, "gw")) return doc.fail(child(at, "gw"), "required field is missing");
      spec.routes.push_back(std::move(route));
    }
  }
  IPF_TRY(read_selector(doc, s, "podAffinity", spec.pod_affinity));
  IPF_TRY(read_selector(doc, s, "namespaceAffinity", spec.namespace_affinity));
  IPF_TRY(read_selector(doc, s, "nodeAffinity", spec.node_affinity));
  IPF_TRY(read_strings(doc, s, "namespaceName", p, spec.namespace_name));
  IPF_TRY(read_strings(doc, s, "nodeName", p, spec.node_name));
  IPF_TRY(read_strings(doc, s, "multusName", p, spec.multus_name));
  IPF_TRY(read_bool(doc, s, "default", p, spec.default_));
  IPF_TRY(read_bool(doc, s, "disable", p, spec.disable));
  return {};
}

Status read_reserved_spec(const Doc& doc, const json& s, ReservedIpSpec& spec) {
  IPF_TRY(check_fields(doc, s, "spec", {"ipVersion", "ips"}));
  IPF_TRY(read_int(doc, s, "ipVersion", "spec", spec.ip_version));
  IPF_TRY(read_strings(doc, s, "ips", "spec", spec.ips));
  return {};
}

constexpr std::string_view kOnlyMacvlan =
    "not supported by ipfence, which handles cniType macvlan only; remove it";

Status read_multus_spec(const Doc& doc, const json& s, MultusConfigSpec& spec) {
  const std::string p = "spec";
  IPF_TRY(check_fields(doc, s, p,
                       {"cniType", "macvlan", "enableCoordinator", "disableIPAM", "coordinator"},
                       {{"ipvlan", kOnlyMacvlan},
                        {"sriov", kOnlyMacvlan},
                        {"ovs", kOnlyMacvlan},
                        {"ibsriov", kOnlyMacvlan},
                        {"customCNI", kOnlyMacvlan}}));
  IPF_TRY(read_string(doc, s, "cniType", p, spec.cni_type));
  IPF_ASSIGN_OR_RETURN(const json* m, read_object(doc, s, "macvlan", p));
  if (m) {
    const std::string mp = "spec.macvlan";
    IPF_TRY(check_fields(doc, *m, mp, {"master", "vlanID", "ippools"},
                         {{"bond",
                           "not supported by ipfence; create the bond on the node and name it in "
                           "spec.macvlan.master"},
                          {"enableRdma", "not supported by ipfence; remove it"},
                          {"rdmaResourceName", "not supported by ipfence; remove it"}}));
    IPF_TRY(read_strings(doc, *m, "master", mp, spec.macvlan.master));
    IPF_TRY(read_int(doc, *m, "vlanID", mp, spec.macvlan.vlan_id));
    IPF_ASSIGN_OR_RETURN(const json* pools, read_object(doc, *m, "ippools", mp));
    if (pools) {
      const std::string pp = "spec.macvlan.ippools";
      IPF_TRY(check_fields(doc, *pools, pp, {"ipv4", "ipv6"}));
      IPF_TRY(read_strings(doc, *pools, "ipv4", pp, spec.macvlan.ipv4_pools));
      IPF_TRY(read_strings(doc, *pools, "ipv6", pp, spec.macvlan.ipv6_pools));
    }
  }
  IPF_TRY(read_bool(doc, s, "enableCoordinator", p, spec.enable_coordinator));
  IPF_TRY(read_bool(doc, s, "disableIPAM", p, spec.disable_ipam));
  IPF_ASSIGN_OR_RETURN(const json* coordinator, read_object(doc, s, "coordinator", p));
  if (coordinator) {
    IPF_TRY(check_plain_json(doc, *coordinator, "spec.coordinator", 0));
    spec.coordinator = *coordinator;
  }
  return {};
}

std::string expected_kinds() {
  return std::string(kind_info(Kind::ippool).name) + ", " + kind_info(Kind::reservedip).name +
         " or " + kind_info(Kind::multusconfig).name;
}

Result<Object> parse_in(Doc& doc, const json& document) {
  if (!document.is_object()) {
    return doc.fail("expected an object with apiVersion, kind, metadata and spec, got " +
                    show(document));
  }
  std::string api_version, kind_name;
  IPF_TRY(read_string(doc, document, "apiVersion", "", api_version));
  IPF_TRY(read_string(doc, document, "kind", "", kind_name));
  if (kind_name.empty()) {
    return doc.fail("kind", "required field is missing; set it to " + expected_kinds());
  }
  std::optional<Kind> kind;
  for (Kind k : {Kind::ippool, Kind::reservedip, Kind::multusconfig}) {
    if (kind_name == kind_info(k).name) kind = k;
  }
  if (!kind) {
    std::string message = "kind " + show(kind_name);
    if (!api_version.empty()) message += " (apiVersion " + api_version + ")";
    message += " is not an ipfence object; expected " + expected_kinds() + " (apiVersion " +
               kApiVersion + ")";
    if (auto near = kind_from_name(kind_name)) {
      message += "; did you mean " + std::string(kind_info(*near).name) + "?";
    }
    return doc.fail(message);
  }
  const KindInfo& info = kind_info(*kind);
  doc.set_subject(info.name, "");
  if (api_version != kApiVersion) {
    if (api_version.empty()) {
      return doc.fail("apiVersion",
                      std::string("required field is missing; set it to ") + kApiVersion);
    }
    return doc.fail("apiVersion", std::string("expected \"") + kApiVersion + "\" for " + info.name +
                                      ", got " + show(api_version));
  }
  ObjectMeta meta;
  IPF_TRY(read_metadata(doc, info, document, meta));
  IPF_TRY(
      check_fields(doc, document, "", {"apiVersion", "kind", "metadata", "spec"}, {}, {"status"}));
  IPF_ASSIGN_OR_RETURN(const json* spec_ptr, read_object(doc, document, "spec", ""));
  static const json kEmpty = json::object();
  const json& spec = spec_ptr ? *spec_ptr : kEmpty;
  switch (*kind) {
    case Kind::ippool: {
      SpiderIPPool pool;
      pool.metadata = std::move(meta);
      IPF_TRY(read_pool_spec(doc, spec, pool.spec));
      return Object{std::move(pool)};
    }
    case Kind::reservedip: {
      SpiderReservedIP reserved;
      reserved.metadata = std::move(meta);
      IPF_TRY(read_reserved_spec(doc, spec, reserved.spec));
      return Object{std::move(reserved)};
    }
    case Kind::multusconfig: {
      SpiderMultusConfig config;
      config.metadata = std::move(meta);
      IPF_TRY(read_multus_spec(doc, spec, config.spec));
      return Object{std::move(config)};
    }
  }
  return doc.fail("internal error: unhandled kind");
}

// kubectl get -o yaml prints several objects as {apiVersion: v1, kind: List, items: [...]}.
bool is_list(const json& document) {
  if (!document.is_object()) return false;
  auto it = document.find("kind");
  if (it == document.end() || !it->is_string()) return false;
  const auto& kind = it->get_ref<const std::string&>();
  if (kind == "List") return true;
  for (Kind k : {Kind::ippool, Kind::reservedip, Kind::multusconfig}) {
    if (kind == std::string(kind_info(k).name) + "List") return true;
  }
  return false;
}

}  // namespace

Kind object_kind(const Object& object) {
  return std::visit(
      [](const auto& o) -> Kind {
        using T = std::decay_t<decltype(o)>;
        if constexpr (std::is_same_v<T, SpiderIPPool>) return Kind::ippool;
        if constexpr (std::is_same_v<T, SpiderReservedIP>) return Kind::reservedip;
        return Kind::multusconfig;
      },
      object);
}

const ObjectMeta& object_meta(const Object& object) {
  return std::visit([](const auto& o) -> const ObjectMeta& { return o.metadata; }, object);
}

ObjectMeta& object_meta(Object& object) {
  return std::visit([](auto& o) -> ObjectMeta& { return o.metadata; }, object);
}

json object_to_json(const Object& object) {
  return std::visit([](const auto& o) { return json(o); }, object);
}

std::optional<std::string> dns1123_subdomain_problem(std::string_view name) {
  if (name.size() > 253) return "must be no more than 253 characters";
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  // Each dot-separated part starts and ends with an alphanumeric.
  bool ok = !name.empty();
  std::size_t start = 0;
  while (ok && start <= name.size()) {
    std::size_t dot = name.find('.', start);
    if (dot == std::string_view::npos) dot = name.size();
    std::string_view part = name.substr(start, dot - start);
    ok = !part.empty() && alnum(part.front()) && alnum(part.back()) &&
         std::all_of(part.begin(), part.end(), [&](char c) { return alnum(c) || c == '-'; });
    start = dot + 1;
  }
  if (ok) return std::nullopt;
  return "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
         "or '.', and must start and end with an alphanumeric character";
}

Result<Object> parse_object(const json& document, int index) {
  Doc doc("document " + std::to_string(index));
  return parse_in(doc, document);
}

Result<std::vector<Object>> parse_manifests(std::string_view text) {
  IPF_ASSIGN_OR_RETURN(std::vector<RawDocument> docs, split_documents(text));
  std::vector<Object> objects;
  for (const RawDocument& raw : docs) {
    const std::string where = "document " + std::to_string(raw.index);
    if (raw.value.is_null()) continue;  // empty document ("---" twice, or only comments)
    if (!is_list(raw.value)) {
      Doc doc(where);
      IPF_ASSIGN_OR_RETURN(Object object, parse_in(doc, raw.value));
      objects.push_back(std::move(object));
      continue;
    }
    const json* items = find(raw.value, "items");
    if (items && !items->is_array()) {
      return Doc(where).type("items", "a list of objects", *items);
    }
    if (!items) continue;
    for (std::size_t i = 0; i < items->size(); ++i) {
      Doc doc(where + ", items[" + std::to_string(i) + "]");
      IPF_ASSIGN_OR_RETURN(Object object, parse_in(doc, (*items)[i]));
      objects.push_back(std::move(object));
    }
  }
  return objects;
}

}  // namespace ipfence::ipam

#include "ipam/store/etcd_url.h"

#include <charconv>

namespace ipfence::store::etcd {
namespace {

constexpr std::string_view kForm =
    "etcd://host:port[,host:port...][?prefix=/ipfence/&timeout=5s&cacert=PATH&cert=PATH&key=PATH]";

Error bad(std::string_view url, const std::string& why) {
  return make_error(ErrorCode::invalid_argument, "store URL \"" + std::string(url) + "\": " + why +
                                                     "; the form is " + std::string(kForm));
}

std::optional<std::string> percent_decode(std::string_view in) {
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    unsigned value = 0;
    if (i + 2 >= in.size() ||
        std::from_chars(in.data() + i + 1, in.data() + i + 3, value, 16).ptr != in.data() + i + 3)
      return std::nullopt;
    out.push_back(static_cast<char>(value));
    i += 2;
  }
  return out;
}

std::optional<std::uint16_t> parse_port(std::string_view text) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value == 0 || value > 65535)
    return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

// "h:p", "h" (port 2379), "[v6]:p", "[v6]" -> "host:port" as curl wants it in a URL.
std::optional<std::string> parse_endpoint(std::string_view text) {
  std::string_view host = text, port = "2379";
  if (text.starts_with('[')) {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = text.substr(0, close + 1);
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (!rest.starts_with(':')) return std::nullopt;
      port = rest.substr(1);
    }
  } else if (const auto colon = text.rfind(':'); colon != std::string_view::npos) {
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  if (host.empty() || host.find_first_of("/@?#&= ") != std::string_view::npos ||
      (host.front() != '[' && host.find(':') != std::string_view::npos) || !parse_port(port))
    return std::nullopt;
  return std::string(host) + ":" + std::string(port);
}

// "5s", "500ms", "1.5s" -> milliseconds; a bare number is seconds.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  double scale = 1000.0;
  if (text.ends_with("ms")) {
    scale = 1.0;
    text.remove_suffix(2);
  } else if (text.ends_with('s')) {
    text.remove_suffix(1);
  }
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || !(value > 0) ||
      value * scale > 3600e3)
    return std::nullopt;
  return std::chrono::milliseconds(std::max<long>(1, static_cast<long>(value * scale)));
}

}  // namespace

Result<StoreOptions> parse_url(std::string_view url) {
  StoreOptions options;
  std::string_view rest = url;
  if (rest.starts_with("etcd://")) {
    rest.remove_prefix(7);
  } else if (rest.starts_with("etcds://")) {
    rest.remove_prefix(8);
    options.client.https = true;
  } else {
    return bad(url, "does not start with etcd:// or etcds://");
  }
  std::string_view query;
  if (const auto mark = rest.find('?'); mark != std::string_view::npos) {
    query = rest.substr(mark + 1);
    rest = rest.substr(0, mark);
  }
  if (rest.ends_with('/')) rest.remove_suffix(1);
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    auto endpoint = parse_endpoint(rest.substr(0, comma));
    if (!endpoint)
      return bad(url, "\"" + std::string(rest.substr(0, comma)) + "\" is not host:port");
    options.client.endpoints.push_back(*endpoint);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    if (comma != std::string_view::npos && rest.empty()) return bad(url, "ends with a comma");
  }
  if (options.client.endpoints.empty()) return bad(url, "names no endpoint");

  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    const std::string name(pair.substr(0, eq));
    auto value = percent_decode(eq == std::string_view::npos ? "" : pair.substr(eq + 1));
    if (!value) return bad(url, "option " + name + " has a malformed %-escape");
    if (name == "prefix") {
      options.prefix = *value;
    } else if (name == "timeout") {
      auto timeout = parse_duration(*value);
      if (!timeout)
        return bad(url, "timeout \"" + *value + "\" is not a duration such as 5s or 500ms");
      options.client.timeout = *timeout;
    } else if (name == "cacert" || name == "cert" || name == "key") {
      if (value->empty()) return bad(url, "option " + name + " needs a file path");
      (name == "cacert" ? options.client.ca_file
       : name == "cert" ? options.client.cert_file
                        : options.client.key_file) = *value;
      options.client.https = true;
    } else {
      return bad(url,
                 "unknown option \"" + name + "\" (known: prefix, timeout, cacert, cert, key)");
    }
  }
  if (options.client.cert_file.empty() != options.client.key_file.empty())
    return bad(url, "cert and key go together (a client certificate needs its key)");
  return options;
}

std::string describe(const StoreOptions& options) {
  std::string out = options.client.https ? "etcds://" : "etcd://";
  for (std::size_t i = 0; i < options.client.endpoints.size(); ++i)
    out += (i ? "," : "") + options.client.endpoints[i];
  return out + "?prefix=" + options.prefix;
}

}  // namespace ipfence::store::etcd

#include "cni/agent_client.h"

#include <curl/curl.h>

#include <cstring>
#include <mutex>

namespace ipfence::cni {
namespace {

using nlohmann::json;

// Replies are small JSON documents; a runaway body means something else answers the socket.
constexpr std::size_t kMaxReplyBytes = 16u << 20;
constexpr std::size_t kSnippetBytes = 200;

size_t collect(char* data, size_t size, size_t count, void* user) {
  auto* out = static_cast<std::string*>(user);
  const size_t n = size * count;
  if (out->size() + n > kMaxReplyBytes) return 0;  // curl aborts with CURLE_WRITE_ERROR
  out->append(data, n);
  return n;
}

std::string snippet(const std::string& text) {
  if (text.size() <= kSnippetBytes) return text;
  return text.substr(0, kSnippetBytes) + "...";
}

// Seconds with up to 3 decimals, as the user wrote ipam.timeout.
std::string seconds_text(std::chrono::milliseconds ms) {
  std::string text = std::to_string(ms.count() / 1000);
  if (ms.count() % 1000 != 0) {
    std::string frac = std::to_string(1000 + ms.count() % 1000).substr(1);
    while (frac.back() == '0') frac.pop_back();
    text += "." + frac;
  }
  return text + "s";
}

}  // namespace

struct AgentClient::CurlHandle {
  CURL* curl = nullptr;
  curl_slist* headers = nullptr;
  ~CurlHandle() {
    curl_slist_free_all(headers);
    if (curl) curl_easy_cleanup(curl);
  }
};

AgentClient::AgentClient(std::string socket_path, std::chrono::milliseconds timeout)
    : socket_path_(std::move(socket_path)), timeout_(timeout), curl_(new CurlHandle) {
  // curl_global_init is not thread-safe; tests may build clients on several threads.
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  curl_->curl = curl_easy_init();
  curl_->headers = curl_slist_append(curl_->headers, "Content-Type: application/json");
  curl_->headers = curl_slist_append(curl_->headers, "Accept: application/json");
  // No "Expect: 100-continue" round trip for larger bodies (GC lists): the agent answers
  // straight away, and waiting for a 100 would only add a second of latency.
  curl_->headers = curl_slist_append(curl_->headers, "Expect:");
}

AgentClient::~AgentClient() = default;

CniOr<AgentReply> AgentClient::get(std::string_view path) {
  return request("GET", path, nullptr);
}

CniOr<AgentReply> AgentClient::post(std::string_view path, const json& body) {
  const std::string text = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return request("POST", path, &text);
}

CniOr<AgentReply> AgentClient::request(std::string_view method, std::string_view path,
                                       const std::string* body) {
  const std::string what = std::string(method) + " " + std::string(path);
  CURL* curl = curl_ ? curl_->curl : nullptr;
  if (!curl) return cni_error(kInternal, "cannot initialise libcurl for " + what);

  AgentReply reply;
  char error_buffer[CURL_ERROR_SIZE] = {};
  // The host part is ignored on a unix socket; "localhost" keeps the Host header ordinary.
  const std::string url = "http://localhost" + std::string(path);
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, socket_path_.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, curl_->headers);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_.count()));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);  // no SIGALRM games in a short-lived plugin
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply.raw);
  curl_easy_setopt(curl, CURLOPT_PROXY, "");  // never route the agent call via http_proxy
  if (body) {
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body->data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body->size()));
  } else {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  }

  const CURLcode rc = curl_easy_perform(curl);
  if (rc != CURLE_OK) {
    std::string detail = error_buffer[0] ? error_buffer : curl_easy_strerror(rc);
    if (rc == CURLE_COULDNT_CONNECT) {
      // curl's buffer says "port 80", which is meaningless on a unix socket; the OS error
      // (no such file, refused, permission denied) is what tells the operator what to fix.
      long os_errno = 0;
      curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &os_errno);
      detail = curl_easy_strerror(rc);
      if (os_errno != 0)
        detail += std::string(" (") + std::strerror(static_cast<int>(os_errno)) + ")";
    }
    if (rc == CURLE_OPERATION_TIMEDOUT)
      return cni_error(kTryAgainLater, "ipfence-agent at " + socket_path_ + " did not answer " +
                                           what + " within ipam.timeout (" +
                                           seconds_text(timeout_) + "): " + detail +
                                           "; is the agent overloaded or stuck?");
    return cni_error(kTryAgainLater, "ipfence-agent is not reachable at " + socket_path_ + ": " +
                                         detail + "; is the agent running on this node?");
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply.status);
  reply.body = json::parse(reply.raw, nullptr, /*allow_exceptions=*/false);
  if (reply.body.is_discarded()) {
    reply.body = nullptr;
    if (reply.ok())
      return cni_error(kInternal, "ipfence-agent at " + socket_path_ + " answered " + what +
                                      " with a body that is not JSON: " + snippet(reply.raw));
  }
  return reply;
}

std::string agent_error_name(const AgentReply& reply) {
  if (!reply.body.is_object()) return {};
  auto error = reply.body.find("error");
  if (error == reply.body.end() || !error->is_object()) return {};
  auto code = error->find("code");
  if (code == error->end() || !code->is_string()) return {};
  return code->get<std::string>();
}

CniError agent_error(const AgentReply& reply) {
  const json* error = nullptr;
  if (reply.body.is_object()) {
    auto it = reply.body.find("error");
    if (it != reply.body.end() && it->is_object()) error = &*it;
  }
  const std::string name = agent_error_name(reply);
  if (error) {
    auto message = error->find("message");
    auto cni_code = error->find("cniCode");
    if (message != error->end() && message->is_string()) {
      int code = 0;
      if (cni_code != error->end() && cni_code->is_number_integer()) code = cni_code->get<int>();
      // An agent older or newer than this plugin may leave cniCode out: the shared table in
      // ipam/result.cpp still knows its error name.
      if (code <= 0) {
        auto kind = error_code_from_name(name);
        code = kind ? cni_error_code(*kind) : kInternal;
      }
      // No "details": libcni prints "msg; details", and the code already says the kind.
      return cni_error(code, message->get<std::string>());
    }
  }
  const int code = reply.status == 503 ? kTryAgainLater : kInternal;
  return cni_error(code, "ipfence-agent answered HTTP " + std::to_string(reply.status) +
                             " without an error body: " + snippet(reply.raw));
}

}  // namespace ipfence::cni

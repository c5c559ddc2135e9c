#include "ipam/store/etcd_http.h"

#include <algorithm>
#include <mutex>

#include "ipam/store/etcd_codec.h"
#include "ipam/store/etcd_curl.h"

namespace ipfence::store::etcd {

void init_curl() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

CurlList json_headers() {
  curl_slist* list = curl_slist_append(nullptr, "Content-Type: application/json");
  list = curl_slist_append(list, "Expect:");
  return CurlList(list);
}

CurlEasy new_easy(const ClientOptions& options, curl_slist* headers) {
  init_curl();
  CurlEasy easy(curl_easy_init());
  if (!easy) return easy;
  CURL* c = easy.get();
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(c, CURLOPT_TCP_KEEPIDLE, 10L);
  curl_easy_setopt(c, CURLOPT_TCP_KEEPINTVL, 5L);
  // etcd is named by its endpoints; a proxy from the environment would only be in the way.
  curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
  if (!options.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, options.ca_file.c_str());
  if (!options.cert_file.empty()) curl_easy_setopt(c, CURLOPT_SSLCERT, options.cert_file.c_str());
  if (!options.key_file.empty()) curl_easy_setopt(c, CURLOPT_SSLKEY, options.key_file.c_str());
  return easy;
}

struct HttpClient::Handle {
  CurlEasy easy;
  CurlList headers;
  char error[CURL_ERROR_SIZE] = {};
};

namespace {

std::size_t append_body(char* data, std::size_t size, std::size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

std::string join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (const auto& part : parts) {
    if (!out.empty()) out += separator;
    out += part;
  }
  return out;
}

}  // namespace

HttpClient::HttpClient(ClientOptions options) : options_(std::move(options)) {
  init_curl();
}

HttpClient::~HttpClient() = default;

std::string HttpClient::endpoint_list() const {
  return join(options_.endpoints, ", ");
}

std::string HttpClient::url(std::size_t endpoint, std::string_view path) const {
  return (options_.https ? "https://" : "http://") + options_.endpoints[endpoint] +
         std::string(path);
}

void HttpClient::failed(std::size_t endpoint) {
  // Only the first of several requests that saw the same endpoint fail moves the preference.
  std::size_t expected = endpoint;
  preferred_.compare_exchange_strong(expected, (endpoint + 1) % options_.endpoints.size());
}

std::unique_ptr<HttpClient::Handle> HttpClient::acquire() {
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      auto handle = std::move(idle_.back());
      idle_.pop_back();
      return handle;
    }
  }
  auto handle = std::make_unique<Handle>();
  handle->headers = json_headers();
  handle->easy = new_easy(options_, handle->headers.get());
  if (handle->easy) curl_easy_setopt(handle->easy.get(), CURLOPT_ERRORBUFFER, handle->error);
  return handle;
}

void HttpClient::release(std::unique_ptr<Handle> handle) {
  std::lock_guard lock(mu_);
  idle_.push_back(std::move(handle));
}

Result<std::string> HttpClient::post(std::string_view path, const std::string& body,
                                     Resend resend) {
  using namespace std::chrono;
  const auto deadline = steady_clock::now() + options_.timeout;
  const std::size_t count = options_.endpoints.size();
  const std::size_t first = preferred_.load();
  std::vector<std::string> failures;
  for (std::size_t attempt = 0; attempt < count; ++attempt) {
    const auto left = duration_cast<milliseconds>(deadline - steady_clock::now());
    if (left.count() <= 0) break;
    const std::size_t index = (first + attempt) % count;
    const std::string& endpoint = options_.endpoints[index];
    // Share what is left between the endpoints not tried yet, so that one that swallows
    // packets does not use up the time of the others.
    const auto connect = std::max(left / static_cast<long>(count - attempt), milliseconds(100));

    auto handle = acquire();
    if (!handle->easy) return make_error(ErrorCode::internal, "curl_easy_init failed");
    CURL* c = handle->easy.get();
    std::string answer;
    handle->error[0] = '\0';
    const std::string target = url(index, path);
    curl_easy_setopt(c, CURLOPT_URL, target.c_str());
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, append_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &answer);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(left.count()));
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(std::min(connect, left).count()));
    const CURLcode rc = curl_easy_perform(c);
    long status = 0;
    long sent = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(c, CURLINFO_REQUEST_SIZE, &sent);
    const std::string curl_error = handle->error[0] ? handle->error : curl_easy_strerror(rc);
    release(std::move(handle));

    if (rc == CURLE_OK && status == 200) {
      // Stay with the endpoint that answered.
      if (index != first) preferred_.store(index);
      return answer;
    }
    if (rc == CURLE_OK) {
      Error error = parse_error(status, answer);
      if (status == 404)
        error = make_error(ErrorCode::unavailable,
                           "no etcd v3 gateway at " + target + " (HTTP 404; etcd 3.4 or later?)");
      // No leader, overloaded: another member may do better, if resending is harmless.
      if (error.code == ErrorCode::unavailable && resend == Resend::safe) {
        failures.push_back(endpoint + ": " + error.message);
        failed(index);
        continue;
      }
      return error.wrap("etcd " + endpoint);
    }
    failures.push_back(endpoint + ": " + curl_error);
    failed(index);
    if (sent > 0 && resend == Resend::unsafe)
      return make_error(ErrorCode::unavailable, "etcd " + endpoint +
                                                    " failed during the request (" + curl_error +
                                                    "); it may or may not have been applied");
  }
  if (failures.empty()) failures.push_back("no time left");
  return make_error(ErrorCode::unavailable, "etcd unreachable at " + endpoint_list() + " within " +
                                                std::to_string(options_.timeout.count()) + " ms (" +
                                                join(failures, "; ") + ")");
}

}  // namespace ipfence::store::etcd

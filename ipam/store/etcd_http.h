// The transport of the etcd backend: JSON POSTs to etcd's v3 gateway over HTTP(S) with
// libcurl, across several endpoints with failover.
//
// Why the JSON gateway and not gRPC: every etcd since 3.4 serves it on the client port, it
// needs nothing beyond libcurl (no protobuf/gRPC build), and a create-if-absent costs about
// one etcd commit either way (see bench/store for the measured latency).
//
// Failover: requests go to the endpoint that answered last. When it cannot be reached, the
// request moves on to the next one, which becomes the preferred endpoint. A request that
// may have reached etcd before failing is resent elsewhere only when that is harmless
// (reads); for a transaction the outcome is unknown and the caller is told so. One deadline
// (`timeout`) covers all attempts of one request, so an unreachable cluster fails in time.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "ipam/result.h"

namespace ipfence::store::etcd {

struct ClientOptions {
  std::vector<std::string> endpoints;  // host:port ([v6]:port)
  bool https = false;
  std::string ca_file;    // verify etcd's certificate with this CA (default: system CAs)
  std::string cert_file;  // client certificate and key for etcd's --client-cert-auth
  std::string key_file;
  std::chrono::milliseconds timeout{5000};  // per request, all endpoints included
};

// Whether a request that failed after it may have reached etcd can be sent again.
enum class Resend { safe, unsafe };

class HttpClient {
 public:
  explicit HttpClient(ClientOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // POSTs `body` to `path` (e.g. "/v3/kv/range"); the answer's body when etcd said 200, else
  // its error as an ErrorCode (etcd_codec.h parse_error). ErrorCode::unavailable, naming
  // the endpoints, when none could be reached in time. Thread-safe.
  Result<std::string> post(std::string_view path, const std::string& body, Resend resend);

  const ClientOptions& options() const { return options_; }
  // "h1:2379, h2:2379", for messages.
  std::string endpoint_list() const;
  std::string url(std::size_t endpoint, std::string_view path) const;
  // The endpoint to use first; failed() moves the preference past a broken one.
  std::size_t preferred_endpoint() const { return preferred_.load(); }
  void failed(std::size_t endpoint);

 private:
  struct Handle;
  std::unique_ptr<Handle> acquire();
  void release(std::unique_ptr<Handle> handle);

  ClientOptions options_;
  std::atomic<std::size_t> preferred_{0};
  std::mutex mu_;
  std::vector<std::unique_ptr<Handle>> idle_;  // curl handles keep their connections open
};

}  // namespace ipfence::store::etcd

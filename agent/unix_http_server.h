// HTTP/1.1 on a unix socket with libmicrohttpd: one thread per connection (requests
// serialize on the allocator anyway; a slow one must not stall /v1/healthz), the peer's uid
// checked with SO_PEERCRED, and a graceful stop that answers every request already begun.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>

#include "agent/http_router.h"
#include "agent/unique_fd.h"
#include "ipam/result.h"

struct MHD_Daemon;

namespace ipfence::agent {

class UnixHttpServer {
 public:
  struct Options {
    std::string socket_path;  // removed by stop()
    uid_t allowed_uid = 0;    // any other peer gets 403
    std::size_t max_body_bytes = 1 << 20;
    unsigned connection_limit = 256;
    unsigned idle_timeout_seconds = 60;  // an idle keep-alive connection is closed after this
  };

  // Serves `router` on `listener`, a listening AF_UNIX socket (unix_listener.h). The router
  // must outlive the server.
  static Result<std::unique_ptr<UnixHttpServer>> start(UniqueFd listener, Options options,
                                                       const HttpRouter& router);
  ~UnixHttpServer();
  UnixHttpServer(const UnixHttpServer&) = delete;
  UnixHttpServer& operator=(const UnixHttpServer&) = delete;

  // Stops accepting connections and removes the socket file, waits up to `grace` for the
  // requests in flight to be answered, then closes every connection. Requests that arrive
  // on open keep-alive connections meanwhile get 503. Returns whether none were cut off.
  bool stop(std::chrono::milliseconds grace);

  int in_flight() const;

 private:
  UnixHttpServer(UniqueFd listener, Options options, const HttpRouter& router);

  struct RequestContext;
  struct Callbacks;  // libmicrohttpd's C callbacks, defined in the .cpp
  HttpResponse answer(RequestContext& context, const char* method, const char* url);

  UniqueFd listener_;
  Options options_;
  const HttpRouter& router_;
  MHD_Daemon* daemon_ = nullptr;

  mutable std::mutex mu_;
  std::condition_variable idle_;
  int in_flight_ = 0;
  bool stopping_ = false;
};

}  // namespace ipfence::agent

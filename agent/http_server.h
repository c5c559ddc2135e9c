// HTTP/1.1 on a listening socket, parsed and written by Boost.Beast (header-only): the agent's
// API on its unix socket, and /metrics on TCP. One thread per connection (requests serialize
// on the allocator anyway; a slow one must not stall /v1/healthz), on a unix socket the peer's
// uid checked with SO_PEERCRED, and a graceful stop that answers every request already begun.
// Beast rather than libmicrohttpd, which links GnuTLS and its tree (2.5 MB of the agent's RSS)
// for sockets that never speak TLS, and than civetweb (prometheus-cpp's Exposer), a second
// server for one route.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "agent/http_router.h"
#include "agent/unique_fd.h"
#include "ipam/result.h"

namespace ipfence::agent {

class HttpServer {
 public:
  struct Options {
    std::string address;          // where it listens (a socket path, host:port): for messages
    bool unlink_on_stop = false;  // `address` is a unix socket file that stop() removes
    // On a unix socket: the one peer uid served (others get 403). nullopt: no check (TCP).
    std::optional<uid_t> allowed_uid;
    std::size_t max_body_bytes = 1 << 20;
    unsigned connection_limit = 256;     // more get 503 and are closed
    unsigned idle_timeout_seconds = 60;  // an idle keep-alive connection is closed after this
  };

  // Serves `router` on `listener`, a listening socket (unix_listener.h, tcp_listener.h),
  // non-blocking. The router must outlive the server.
  static Result<std::unique_ptr<HttpServer>> start(UniqueFd listener, Options options,
                                                   const HttpRouter& router);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Stops accepting connections (and removes the socket file), waits up to `grace` for the
  // requests in flight to be answered, then closes every connection. Requests that arrive
  // on open keep-alive connections meanwhile get 503. Returns whether none were cut off.
  bool stop(std::chrono::milliseconds grace);

  int in_flight() const;

 private:
  HttpServer(UniqueFd listener, Options options, const HttpRouter& router);

  struct Request;     // one request as read, defined in the .cpp
  struct Connection;  // one accepted connection: fd, peer, bytes read past a request

  void accept_loop();
  // One connection's thread: its requests one after another until either side closes.
  void serve(int fd);
  bool serve_one(Connection& connection);  // whether it stays open for another request
  HttpResponse answer(Request& request);
  // Counts a request in flight from its headers to its answer; false when stopping.
  bool begin_request();
  void end_request();

  UniqueFd listener_;
  UniqueFd wake_;  // eventfd, readable once stop() began: the accept loop returns
  Options options_;
  const HttpRouter& router_;
  std::thread acceptor_;

  mutable std::mutex mu_;
  std::condition_variable changed_;  // in_flight_ or connections_ went down
  int in_flight_ = 0;
  std::set<int> connections_;  // open ones, each served by its own (detached) thread
  bool stopping_ = false;
  bool stopped_ = false;
};

}  // namespace ipfence::agent

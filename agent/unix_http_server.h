// HTTP/1.1 on a unix socket, parsed and written by Boost.Beast (header-only): one thread per
// connection (requests serialize on the allocator anyway; a slow one must not stall
// /v1/healthz), the peer's uid checked with SO_PEERCRED, and a graceful stop that answers
// every request already begun. Beast rather than libmicrohttpd, which links GnuTLS and its
// tree (2.5 MB of the agent's RSS) for a socket that never speaks TLS.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "agent/http_router.h"
#include "agent/unique_fd.h"
#include "ipam/result.h"

namespace ipfence::agent {

class UnixHttpServer {
 public:
  struct Options {
    std::string socket_path;  // removed by stop()
    uid_t allowed_uid = 0;    // any other peer gets 403
    std::size_t max_body_bytes = 1 << 20;
    unsigned connection_limit = 256;     // more get 503 and are closed
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

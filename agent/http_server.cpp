#include "agent/http_server.h"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <cerrno>
#include <cstring>
#include <exception>
#include <optional>
#include <system_error>

#include "agent/fd_stream.h"
#include "ipam/result.h"

namespace ipfence::agent {

namespace http = boost::beast::http;

// One request, from its headers to its answer.
struct HttpServer::Request {
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  std::optional<ucred> peer;  // empty when SO_PEERCRED failed or was not asked
  bool admitted = true;       // false: arrived while stopping
  bool too_large = false;
  std::string method;
  std::string path;  // without the query string
  std::string body;
};

struct HttpServer::Connection {
  int fd;
  std::optional<ucred> peer;         // empty when SO_PEERCRED failed or was not asked (TCP)
  boost::beast::flat_buffer buffer;  // bytes read past one request belong to the next
};

namespace {

// Headers beyond this are refused (431): the API's requests carry a handful.
constexpr std::uint32_t kHeaderLimit = 16 * 1024;
// After refusing a body as too large, how long the rest of it is read and dropped, so that the
// client, still sending, gets to read the 413 instead of a reset connection.
constexpr auto kDrainFor = std::chrono::seconds(2);
// Writing the 503 to a connection over the limit: the socket buffer is empty, so at once.
constexpr auto kRefuseTimeout = std::chrono::milliseconds(100);

std::optional<ucred> peer_credentials(int fd) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return std::nullopt;
  return cred;
}

// Writes `answer` (to a HEAD request: its headers only, with the length a GET's body would
// have); false when the connection broke (or timed out) on the way.
bool write_response(FdStream& stream, const HttpResponse& answer, unsigned version, bool keep_alive,
                    bool head = false) {
  http::response<http::string_body> response;
  response.version(version);
  response.result(static_cast<unsigned>(answer.status));
  response.set(http::field::content_type, answer.content_type);
  for (const auto& [name, value] : answer.headers) response.set(name, value);
  response.keep_alive(keep_alive);
  if (head) {
    response.content_length(answer.body.size());
  } else {
    response.body() = answer.body;
    response.prepare_payload();
  }
  boost::beast::error_code ec;
  http::write(stream, response, ec);
  return !ec;
}

HttpResponse error_response(int status, ErrorCode code, const std::string& message) {
  return json_error(status, error_code_name(code), cni_error_code(code), message);
}

// After the answer to a body too large to read: no more from us, and the rest of theirs is
// read and dropped for a while, so that closing then does not reset a client still sending it.
void drop_unread_body(int fd) {
  ::shutdown(fd, SHUT_WR);
  const auto until = std::chrono::steady_clock::now() + kDrainFor;
  char sink[16 * 1024];
  for (auto now = std::chrono::steady_clock::now(); now < until;
       now = std::chrono::steady_clock::now()) {
    pollfd p{fd, POLLIN, 0};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - now);
    if (::poll(&p, 1, static_cast<int>(left.count()) + 1) <= 0) return;
    if (::recv(fd, sink, sizeof sink, 0) <= 0) return;
  }
}

}  // namespace

HttpResponse HttpServer::answer(Request& request) {
  // On a unix socket only its one peer uid is served; on TCP there is no peer to check.
  const auto refusal = [&]() -> std::optional<HttpResponse> {
    if (!options_.allowed_uid) return std::nullopt;
    if (!request.peer)
      return json_error(403, "permission_denied", cni_error_code(ErrorCode::internal),
                        "ipfence-agent could not read the peer credentials of this "
                        "connection (SO_PEERCRED); refusing it");
    if (request.peer->uid != *options_.allowed_uid)
      return json_error(403, "permission_denied", cni_error_code(ErrorCode::internal),
                        "ipfence-agent serves only uid " + std::to_string(*options_.allowed_uid) +
                            " (root); this client runs as uid " +
                            std::to_string(request.peer->uid) + " (pid " +
                            std::to_string(request.peer->pid) + ")");
    return std::nullopt;
  };
  HttpResponse response;
  if (auto refused = refusal()) {
    response = std::move(*refused);
  } else if (!request.admitted) {
    response =
        error_response(503, ErrorCode::unavailable, "ipfence-agent is shutting down; try again");
  } else if (request.too_large) {
    response = error_response(
        413, ErrorCode::invalid_argument,
        "request body is larger than " + std::to_string(options_.max_body_bytes) + " bytes");
  } else {
    HttpRequest routed{std::move(request.method), std::move(request.path), std::move(request.body)};
    try {
      response = router_.dispatch(routed);
    } catch (const std::exception& e) {
      // Handlers return errors as values; an exception here is a bug, not the client's.
      spdlog::error("{} {}: unexpected exception: {}", routed.method, routed.path, e.what());
      response =
          error_response(500, ErrorCode::internal, std::string("internal error: ") + e.what());
    }
    request.method = std::move(routed.method);
    request.path = std::move(routed.path);
  }
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::steady_clock::now() - request.started)
                          .count();
  spdlog::debug("{} {} -> {} ({} us, uid {})", request.method, request.path, response.status,
                micros, request.peer ? static_cast<long>(request.peer->uid) : -1L);
  return response;
}

bool HttpServer::begin_request() {
  std::lock_guard lock(mu_);
  ++in_flight_;
  return !stopping_;
}

void HttpServer::end_request() {
  std::lock_guard lock(mu_);
  if (--in_flight_ == 0) changed_.notify_all();
}

bool HttpServer::serve_one(Connection& connection) {
  FdStream stream(connection.fd, std::chrono::seconds(options_.idle_timeout_seconds));
  auto& buffer = connection.buffer;
  http::request_parser<http::string_body> parser;
  parser.header_limit(kHeaderLimit);
  parser.body_limit(options_.max_body_bytes);
  boost::beast::error_code ec;
  http::read_header(stream, buffer, parser, ec);
  Request request;
  request.too_large = ec == http::error::body_limit;  // its Content-Length says so
  if (ec && !request.too_large) {
    // Closed or idle between requests is the normal end of a connection; anything else is a
    // client that does not speak HTTP/1.x: it gets a reason, then the connection closes.
    if (ec == http::error::end_of_stream || ec == boost::asio::error::timed_out ||
        ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset)
      return false;
    const bool header_too_large = ec == http::error::header_limit;
    spdlog::warn("http: unreadable request on {}: {}", options_.address, ec.message());
    write_response(stream,
                   error_response(header_too_large ? 431 : 400, ErrorCode::invalid_argument,
                                  header_too_large ? "request headers are larger than " +
                                                         std::to_string(kHeaderLimit) + " bytes"
                                                   : "malformed HTTP request: " + ec.message()),
                   11, false);
    return false;
  }
  // Headers are in: from here on the request counts as in flight until it is answered.
  request.admitted = begin_request();
  struct EndRequest {
    HttpServer* server;
    ~EndRequest() { server->end_request(); }
  } end_request{this};
  request.peer = connection.peer;
  const auto& header = parser.get();  // the body too, once read
  request.method = std::string(header.method_string());
  const std::string_view target(header.target().data(), header.target().size());
  request.path = std::string(target.substr(0, target.find('?')));
  const unsigned version = header.version();

  if (!request.too_large) {
    if (request.admitted && boost::beast::iequals(header[http::field::expect], "100-continue")) {
      http::response<http::empty_body> go_on{http::status::continue_, version};
      http::write(stream, go_on, ec);
      if (ec) return false;
    }
    http::read(stream, buffer, parser, ec);
    if (ec == http::error::body_limit) {
      request.too_large = true;
    } else if (ec) {
      spdlog::warn("http: {} {}: request body unreadable: {}", request.method, request.path,
                   ec.message());
      write_response(stream,
                     error_response(400, ErrorCode::invalid_argument,
                                    "malformed HTTP request body: " + ec.message()),
                     version, false);
      return false;
    } else {
      request.body = std::move(parser.get().body());
    }
  }
  const bool keep_alive = request.admitted && !request.too_large && header.keep_alive();
  const bool head = request.method == "HEAD";
  const bool written = write_response(stream, answer(request), version, keep_alive, head);
  if (written && request.too_large) drop_unread_body(connection.fd);
  return written && keep_alive;
}

void HttpServer::serve(int fd) {
  {
    Connection connection{fd, options_.allowed_uid ? peer_credentials(fd) : std::nullopt, {}};
    try {
      while (serve_one(connection)) {
      }
    } catch (const std::exception& e) {  // allocation failure: lose this connection only
      spdlog::error("http: connection on {} dropped: {}", options_.address, e.what());
    }
  }
  // Closed under the lock, so stop() never shuts down a number reused by a new connection.
  std::lock_guard lock(mu_);
  ::close(fd);
  connections_.erase(fd);
  changed_.notify_all();  // under the lock: stop() cannot return (and free us) before this
}

void HttpServer::accept_loop() {
  pollfd fds[2] = {{listener_.get(), POLLIN, 0}, {wake_.get(), POLLIN, 0}};
  for (;;) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      spdlog::error("http: poll on {}: {}; not accepting anymore", options_.address,
                    std::strerror(errno));
      return;
    }
    if (fds[1].revents != 0) return;
    if (fds[0].revents == 0) continue;
    const int fd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) continue;
      // Out of descriptors or memory: say so, and give the system a moment before retrying.
      spdlog::warn("http: accept on {}: {}", options_.address, std::strerror(errno));
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    {
      std::unique_lock lock(mu_);
      if (connections_.size() >= options_.connection_limit) {
        lock.unlock();
        FdStream stream(fd, kRefuseTimeout);
        write_response(
            stream,
            error_response(503, ErrorCode::unavailable,
                           "ipfence-agent has " + std::to_string(options_.connection_limit) +
                               " connections open, its limit; try again"),
            11, false);
        ::close(fd);
        continue;
      }
      connections_.insert(fd);
    }
    try {
      std::thread(&HttpServer::serve, this, fd).detach();
    } catch (const std::system_error& e) {  // no thread for it: the connection is refused
      spdlog::warn("http: cannot serve a connection on {}: {}", options_.address, e.what());
      std::lock_guard lock(mu_);
      ::close(fd);
      connections_.erase(fd);
    }
  }
}

HttpServer::HttpServer(UniqueFd listener, Options options, const HttpRouter& router)
    : listener_(std::move(listener)), options_(std::move(options)), router_(router) {}

Result<std::unique_ptr<HttpServer>> HttpServer::start(UniqueFd listener, Options options,
                                                      const HttpRouter& router) {
  std::unique_ptr<HttpServer> server(
      new HttpServer(std::move(listener), std::move(options), router));
  server->wake_.reset(::eventfd(0, EFD_CLOEXEC));
  if (!server->wake_)
    return make_error(ErrorCode::io, "cannot start the HTTP server on " + server->options_.address +
                                         ": eventfd: " + std::strerror(errno));
  try {
    server->acceptor_ = std::thread(&HttpServer::accept_loop, server.get());
  } catch (const std::system_error& e) {
    server->stopped_ = true;  // nothing to stop; the destructor must not wait
    return make_error(ErrorCode::io, "cannot start the HTTP server on " + server->options_.address +
                                         ": " + e.what());
  }
  return server;
}

HttpServer::~HttpServer() {
  stop(std::chrono::milliseconds(0));
}

int HttpServer::in_flight() const {
  std::lock_guard lock(mu_);
  return in_flight_;
}

bool HttpServer::stop(std::chrono::milliseconds grace) {
  {
    std::lock_guard lock(mu_);
    if (stopped_) return true;
    stopping_ = true;
  }
  // No new connections from here on. Clients that come now fail fast (no such file)
  // instead of waiting on a dead backlog.
  if (::eventfd_write(wake_.get(), 1) != 0)
    spdlog::error("http: cannot wake the accept loop: {}", std::strerror(errno));
  if (acceptor_.joinable()) acceptor_.join();
  listener_.reset();
  if (options_.unlink_on_stop && ::unlink(options_.address.c_str()) != 0 && errno != ENOENT)
    spdlog::warn("remove socket {}: {}", options_.address, std::strerror(errno));

  std::unique_lock lock(mu_);
  const bool drained = changed_.wait_for(lock, grace, [this] { return in_flight_ == 0; });
  if (!drained)
    spdlog::warn("{} request(s) still in flight after {} ms; closing their connections", in_flight_,
                 grace.count());
  // Idle connections end at once, busy ones when their handler returns (its answer is lost).
  for (const int fd : connections_) ::shutdown(fd, SHUT_RDWR);
  changed_.wait(lock, [this] { return connections_.empty(); });
  stopped_ = true;
  return drained;
}

}  // namespace ipfence::agent

#include "agent/unix_http_server.h"

#include <microhttpd.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <exception>
#include <optional>

#include "ipam/result.h"

namespace ipfence::agent {

// One per HTTP request, from the first call of the access handler to the completed callback.
struct UnixHttpServer::RequestContext {
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  std::optional<ucred> peer;      // empty when SO_PEERCRED failed
  bool refused_at_start = false;  // arrived while stopping
  bool too_large = false;
  std::string body;
};

namespace {

std::optional<ucred> peer_credentials(MHD_Connection* connection) {
  const MHD_ConnectionInfo* info =
      MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
  if (info == nullptr) return std::nullopt;
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(info->connect_fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
    return std::nullopt;
  return cred;
}

MHD_Result send(MHD_Connection* connection, const HttpResponse& answer, bool close) {
  MHD_Response* response = MHD_create_response_from_buffer(
      answer.body.size(), const_cast<char*>(answer.body.data()), MHD_RESPMEM_MUST_COPY);
  if (response == nullptr) return MHD_NO;
  MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, answer.content_type.c_str());
  for (const auto& [name, value] : answer.headers)
    MHD_add_response_header(response, name.c_str(), value.c_str());
  if (close) MHD_add_response_header(response, MHD_HTTP_HEADER_CONNECTION, "close");
  MHD_Result queued =
      MHD_queue_response(connection, static_cast<unsigned>(answer.status), response);
  MHD_destroy_response(response);
  return queued;
}

void log_from_mhd(void*, const char* format, va_list args) {
  char line[512];
  std::vsnprintf(line, sizeof line, format, args);
  std::string text(line);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  spdlog::warn("http: {}", text);
}

}  // namespace

struct UnixHttpServer::Callbacks {
  static MHD_Result on_request(void* cls, MHD_Connection* connection, const char* url,
                               const char* method, const char*, const char* upload_data,
                               std::size_t* upload_data_size, void** con_cls) {
    auto* self = static_cast<UnixHttpServer*>(cls);
    auto* context = static_cast<RequestContext*>(*con_cls);
    if (context == nullptr) {
      // Headers are in: from here on the request counts as in flight until completed.
      context = new RequestContext;
      *con_cls = context;
      context->peer = peer_credentials(connection);
      std::lock_guard lock(self->mu_);
      ++self->in_flight_;
      context->refused_at_start = self->stopping_;
      return MHD_YES;
    }
    if (*upload_data_size > 0) {
      if (context->body.size() + *upload_data_size > self->options_.max_body_bytes)
        context->too_large = true;
      else
        context->body.append(upload_data, *upload_data_size);
      *upload_data_size = 0;
      return MHD_YES;
    }
    HttpResponse answer = self->answer(*context, method, url);
    return send(connection, answer, context->refused_at_start);
  }

  static void on_completed(void* cls, MHD_Connection*, void** con_cls, MHD_RequestTerminationCode) {
    auto* self = static_cast<UnixHttpServer*>(cls);
    auto* context = static_cast<RequestContext*>(*con_cls);
    if (context == nullptr) return;
    delete context;
    *con_cls = nullptr;
    std::lock_guard lock(self->mu_);
    if (--self->in_flight_ == 0) self->idle_.notify_all();
  }
};

HttpResponse UnixHttpServer::answer(RequestContext& context, const char* method, const char* url) {
  HttpRequest request{method, url, std::move(context.body)};
  HttpResponse response;
  if (!context.peer) {
    response = json_error(403, "permission_denied", cni_error_code(ErrorCode::internal),
                          "ipfence-agent could not read the peer credentials of this "
                          "connection (SO_PEERCRED); refusing it");
  } else if (context.peer->uid != options_.allowed_uid) {
    response =
        json_error(403, "permission_denied", cni_error_code(ErrorCode::internal),
                   "ipfence-agent serves only uid " + std::to_string(options_.allowed_uid) +
                       " (root); this client runs as uid " + std::to_string(context.peer->uid) +
                       " (pid " + std::to_string(context.peer->pid) + ")");
  } else if (context.refused_at_start) {
    response = json_error(503, error_code_name(ErrorCode::unavailable),
                          cni_error_code(ErrorCode::unavailable),
                          "ipfence-agent is shutting down; try again");
  } else if (context.too_large) {
    response = json_error(
        413, error_code_name(ErrorCode::invalid_argument),
        cni_error_code(ErrorCode::invalid_argument),
        "request body is larger than " + std::to_string(options_.max_body_bytes) + " bytes");
  } else {
    try {
      response = router_.dispatch(request);
    } catch (const std::exception& e) {
      // Handlers return errors as values; an exception here is a bug, not the client's.
      spdlog::error("{} {}: unexpected exception: {}", request.method, request.path, e.what());
      response =
          json_error(500, error_code_name(ErrorCode::internal), cni_error_code(ErrorCode::internal),
                     std::string("internal error: ") + e.what());
    }
  }
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                    std::chrono::steady_clock::now() - context.started)
                    .count();
  spdlog::debug("{} {} -> {} ({} us, uid {})", request.method, request.path, response.status,
                micros, context.peer ? static_cast<long>(context.peer->uid) : -1L);
  return response;
}

UnixHttpServer::UnixHttpServer(UniqueFd listener, Options options, const HttpRouter& router)
    : listener_(std::move(listener)), options_(std::move(options)), router_(router) {}

Result<std::unique_ptr<UnixHttpServer>> UnixHttpServer::start(UniqueFd listener, Options options,
                                                              const HttpRouter& router) {
  std::unique_ptr<UnixHttpServer> server(
      new UnixHttpServer(std::move(listener), std::move(options), router));
  // Thread per connection: the allocator serializes requests anyway, and a request that
  // waits for it must not hold up others (healthz, status) behind a single polling thread.
  // ITC lets MHD_quiesce_daemon stop the listening thread from outside.
  const unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL_INTERNAL_THREAD |
                         MHD_USE_ITC | MHD_USE_ERROR_LOG;
  server->daemon_ = MHD_start_daemon(
      flags, 0, nullptr, nullptr, &Callbacks::on_request, server.get(), MHD_OPTION_EXTERNAL_LOGGER,
      &log_from_mhd, nullptr,                             //
      MHD_OPTION_LISTEN_SOCKET, server->listener_.get(),  //
      MHD_OPTION_NOTIFY_COMPLETED, &Callbacks::on_completed, server.get(),
      MHD_OPTION_CONNECTION_LIMIT, server->options_.connection_limit,  //
      MHD_OPTION_CONNECTION_TIMEOUT, server->options_.idle_timeout_seconds, MHD_OPTION_END);
  if (server->daemon_ == nullptr) {
    // Whether MHD closed the socket on failure is not documented: leak it rather than risk
    // closing an fd number that was reused meanwhile. The process exits on this error.
    server->listener_.release();
    return make_error(ErrorCode::io,
                      "cannot start the HTTP server on " + server->options_.socket_path);
  }
  return server;
}

UnixHttpServer::~UnixHttpServer() {
  stop(std::chrono::milliseconds(0));
}

int UnixHttpServer::in_flight() const {
  std::lock_guard lock(mu_);
  return in_flight_;
}

bool UnixHttpServer::stop(std::chrono::milliseconds grace) {
  {
    std::lock_guard lock(mu_);
    if (daemon_ == nullptr) return true;
    stopping_ = true;
  }
  // No new connections from here on. MHD hands the listening socket back to us.
  const MHD_socket returned = MHD_quiesce_daemon(daemon_);
  if (returned == listener_.get())
    listener_.reset();
  else
    listener_.release();  // still MHD's: MHD_stop_daemon closes it
  // Clients that come now fail fast (no such file) instead of waiting on a dead backlog.
  if (::unlink(options_.socket_path.c_str()) != 0 && errno != ENOENT)
    spdlog::warn("remove socket {}: {}", options_.socket_path, std::strerror(errno));

  bool drained = false;
  {
    std::unique_lock lock(mu_);
    drained = idle_.wait_for(lock, grace, [this] { return in_flight_ == 0; });
    if (!drained)
      spdlog::warn("{} request(s) still in flight after {} ms; closing their connections",
                   in_flight_, grace.count());
  }
  MHD_stop_daemon(daemon_);
  std::lock_guard lock(mu_);
  daemon_ = nullptr;
  return drained;
}

}  // namespace ipfence::agent

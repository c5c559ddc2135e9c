#include "agent/tcp_listener.h"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace ipfence::agent {

Result<TcpListener> listen_tcp(const std::string& address, int backlog) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos)
    return make_error(ErrorCode::invalid_argument,
                      "\"" + address + "\" is not host:port (e.g. 127.0.0.1:9711, [::1]:9711)");
  std::string host = address.substr(0, colon);
  const std::string port = address.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV | AI_NUMERICHOST;  // no DNS at start
  addrinfo* found = nullptr;
  if (const int rc =
          ::getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &found);
      rc != 0)
    return make_error(
        ErrorCode::invalid_argument,
        "\"" + host + "\" is not a numeric IPv4 or IPv6 address (" + ::gai_strerror(rc) + ")");
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> results(found, &::freeaddrinfo);

  const auto os_error = [&](const char* what) {
    return make_error(ErrorCode::io, address + ": " + what + ": " + std::strerror(errno));
  };
  UniqueFd fd(::socket(found->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return os_error("socket");
  const int on = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  if (::bind(fd.get(), found->ai_addr, found->ai_addrlen) != 0) return os_error("bind");
  if (::listen(fd.get(), backlog) != 0) return os_error("listen");

  sockaddr_storage bound{};
  socklen_t length = sizeof bound;
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&bound), &length) != 0)
    return os_error("getsockname");
  const unsigned bound_port =
      ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                        : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  return TcpListener{std::move(fd), address.substr(0, colon) + ":" + std::to_string(bound_port)};
}

}  // namespace ipfence::agent

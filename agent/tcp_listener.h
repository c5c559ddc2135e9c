// The listening TCP socket of the /metrics endpoint (metrics.h), for HttpServer.
#pragma once

#include <string>

#include "agent/unique_fd.h"
#include "ipam/result.h"

namespace ipfence::agent {

struct TcpListener {
  UniqueFd fd;          // listening, non-blocking, close-on-exec
  std::string address;  // host:port as given, with the port actually bound (port 0 picks one)
};

// Listens on `address`: host:port, the host a numeric IPv4 or IPv6 address ("[::1]:9711"; no
// names, so that starting never waits on DNS). SO_REUSEADDR, so that a restart binds at once.
Result<TcpListener> listen_tcp(const std::string& address, int backlog = 128);

}  // namespace ipfence::agent

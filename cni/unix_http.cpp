#include "cni/unix_http.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ipfence::cni {
namespace {

using Clock = std::chrono::steady_clock;

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Waits for `events` until the deadline; false on timeout.
bool wait_for(int fd, short events, Clock::time_point deadline) {
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, events, 0};
    int n = poll(&p, 1, static_cast<int>(left.count()));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return true;  // let the next call report the error
  }
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

bool decode_chunked(std::string_view in, std::string& out, std::string& problem) {
  while (true) {
    auto eol = in.find("\r\n");
    if (eol == std::string_view::npos) return problem = "truncated chunk size", false;
    std::string size_text(trim(in.substr(0, in.find_first_of(";\r"))));
    char* end = nullptr;
    unsigned long size = std::strtoul(size_text.c_str(), &end, 16);
    if (size_text.empty() || *end != '\0') return problem = "bad chunk size", false;
    in.remove_prefix(eol + 2);
    if (size == 0) return true;  // trailers, if any, are ignored
    if (in.size() < size + 2) return problem = "truncated chunk", false;
    out.append(in.substr(0, size));
    in.remove_prefix(size + 2);
  }
}

}  // namespace

bool parse_http_response(std::string_view raw, HttpAnswer& answer, std::string& problem) {
  auto header_end = raw.find("\r\n\r\n");
  if (header_end == std::string_view::npos) return problem = "no end of headers", false;
  std::string_view head = raw.substr(0, header_end);
  std::string_view body = raw.substr(header_end + 4);
  auto line_end = head.find("\r\n");
  std::string_view status_line = head.substr(0, line_end);
  // "HTTP/1.1 200 OK"
  if (status_line.substr(0, 7) != "HTTP/1." || status_line.size() < 12 || status_line[8] != ' ')
    return problem = "not an HTTP/1.x status line: " + std::string(status_line.substr(0, 40)),
           false;
  answer.status = 0;
  for (char c : status_line.substr(9, 3)) {
    if (c < '0' || c > '9') return problem = "bad status code", false;
    answer.status = answer.status * 10 + (c - '0');
  }
  bool chunked = false;
  long long length = -1;
  std::string_view rest = line_end == std::string_view::npos ? "" : head.substr(line_end + 2);
  while (!rest.empty()) {
    auto eol = rest.find("\r\n");
    std::string_view line = rest.substr(0, eol);
    rest = eol == std::string_view::npos ? "" : rest.substr(eol + 2);
    auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view name = trim(line.substr(0, colon)), value = trim(line.substr(colon + 1));
    if (iequals(name, "Transfer-Encoding") && iequals(value, "chunked")) chunked = true;
    if (iequals(name, "Content-Length"))
      length = std::strtoll(std::string(value).c_str(), nullptr, 10);
  }
  answer.body.clear();
  if (chunked) return decode_chunked(body, answer.body, problem);
  if (length >= 0) {
    if (static_cast<long long>(body.size()) < length) return problem = "truncated body", false;
    answer.body = std::string(body.substr(0, static_cast<std::size_t>(length)));
    return true;
  }
  answer.body = std::string(body);  // delimited by the end of the stream
  return true;
}

bool unix_http_request(const std::string& socket_path, std::string_view method,
                       std::string_view path, const std::string* json_body,
                       std::chrono::milliseconds timeout, std::size_t max_body, HttpAnswer& answer,
                       HttpFailure& failure) {
  const auto deadline = Clock::now() + timeout;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof address.sun_path) {
    failure = {HttpFailure::Kind::connect, "socket path too long"};
    return false;
  }
  std::memcpy(address.sun_path, socket_path.c_str(), socket_path.size() + 1);
  Fd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (fd.get() < 0) {
    failure = {HttpFailure::Kind::connect, std::strerror(errno)};
    return false;
  }
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    // A unix socket connects at once or says why; EAGAIN means the listen backlog is full.
    if (errno != EAGAIN && errno != EINPROGRESS) {
      failure = {HttpFailure::Kind::connect, std::strerror(errno)};
      return false;
    }
    if (!wait_for(fd.get(), POLLOUT, deadline)) {
      failure = {HttpFailure::Kind::timeout, "while connecting"};
      return false;
    }
    int error = 0;
    socklen_t len = sizeof error;
    getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &len);
    if (error != 0) {
      failure = {HttpFailure::Kind::connect, std::strerror(error)};
      return false;
    }
  }

  std::string request = std::string(method) + " " + std::string(path) +
                        " HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n"
                        "Connection: close\r\n";
  if (json_body)
    request +=
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(json_body->size()) +
        "\r\n\r\n" + *json_body;
  else
    request += "\r\n";
  std::size_t sent = 0;
  while (sent < request.size()) {
    ssize_t n = send(fd.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!wait_for(fd.get(), POLLOUT, deadline)) {
        failure = {HttpFailure::Kind::timeout, "while sending the request"};
        return false;
      }
    } else {
      failure = {HttpFailure::Kind::connect, std::string("send: ") + std::strerror(errno)};
      return false;
    }
  }

  std::string raw;
  char buffer[16384];
  while (true) {
    ssize_t n = recv(fd.get(), buffer, sizeof buffer, 0);
    if (n > 0) {
      raw.append(buffer, static_cast<std::size_t>(n));
      if (raw.size() > max_body + 64 * 1024) {
        failure = {HttpFailure::Kind::protocol, "the answer is larger than expected"};
        return false;
      }
    } else if (n == 0) {
      break;
    } else if (errno == EAGAIN || errno == EINTR) {
      if (!wait_for(fd.get(), POLLIN, deadline)) {
        failure = {HttpFailure::Kind::timeout,
                   "with " + std::to_string(raw.size()) + " bytes received"};
        return false;
      }
    } else {
      failure = {HttpFailure::Kind::connect, std::string("recv: ") + std::strerror(errno)};
      return false;
    }
  }
  std::string problem;
  if (!parse_http_response(raw, answer, problem)) {
    // An answer cut short (the agent died or restarted mid-request) is a lost connection:
    // the runtime should try again. Only something that is not HTTP at all is a protocol
    // error.
    const bool cut_short = raw.empty() || raw.rfind("HTTP/1.", 0) == 0;
    failure = {cut_short ? HttpFailure::Kind::connect : HttpFailure::Kind::protocol,
               cut_short ? "the connection closed after " + std::to_string(raw.size()) +
                               " bytes of the answer (" + problem + ")"
                         : problem};
    return false;
  }
  return true;
}

}  // namespace ipfence::cni

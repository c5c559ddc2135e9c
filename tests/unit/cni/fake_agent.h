// Test doubles for the plugin tests: a fake ipfence-agent (HTTP/1.1 on a unix socket in a
// temp dir, answering canned JSON and recording every request) and a runner that executes
// the real plugin binary with a given environment and stdin.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace ipfence::cni::testing {

// A fresh directory under /tmp, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = "/tmp/ipfence-cni-test-XXXXXX";
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct FakeRequest {
  std::string method;
  std::string path;
  nlohmann::json body;  // null for GET or a body that is not JSON
};

struct FakeResponse {
  int status = 200;
  std::string body = "{}";
  bool hang = false;  // never answer: lets the client run into its timeout
};

// Serves one connection at a time, which is all a plugin process ever opens at once.
class FakeAgent {
 public:
  using Handler = std::function<FakeResponse(const FakeRequest&)>;

  explicit FakeAgent(Handler handler) : handler_(std::move(handler)) {
    socket_path_ = dir_.path() + "/agent.sock";
    listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, socket_path_.c_str(), sizeof addr.sun_path - 1);
    if (listen_fd_ < 0 ||
        ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listen_fd_, 16) != 0 || ::pipe2(wake_, O_CLOEXEC) != 0)
      throw std::runtime_error("fake agent: cannot listen on " + socket_path_);
    thread_ = std::thread([this] { serve(); });
  }

  ~FakeAgent() {
    stop_ = true;
    (void)!::write(wake_[1], "x", 1);
    thread_.join();
    for (int fd : hung_) ::close(fd);
    ::close(listen_fd_);
    ::close(wake_[0]);
    ::close(wake_[1]);
  }

  FakeAgent(const FakeAgent&) = delete;
  FakeAgent& operator=(const FakeAgent&) = delete;

  const std::string& socket_path() const { return socket_path_; }
  const std::string& dir() const { return dir_.path(); }

  std::vector<FakeRequest> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }

  // "POST /v1/ipam/allocate" for each request, in order.
  std::vector<std::string> calls() const {
    std::vector<std::string> out;
    for (const auto& r : requests()) out.push_back(r.method + " " + r.path);
    return out;
  }

 private:
  void serve() {
    while (!stop_) {
      pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0) continue;
      if (fds[1].revents) return;
      const int conn = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (conn < 0) continue;
      handle(conn);
    }
  }

  // Reads one request (headers, then Content-Length bytes), answers, closes.
  void handle(int conn) {
    timeval tv{5, 0};
    ::setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::string data;
    char buf[4096];
    std::size_t header_end = std::string::npos;
    std::size_t content_length = 0;
    while (true) {
      if (header_end == std::string::npos) {
        header_end = data.find("\r\n\r\n");
        if (header_end != std::string::npos)
          content_length = parse_length(data.substr(0, header_end));
      }
      if (header_end != std::string::npos && data.size() >= header_end + 4 + content_length) break;
      const ssize_t n = ::read(conn, buf, sizeof buf);
      if (n <= 0) {
        ::close(conn);
        return;
      }
      data.append(buf, static_cast<std::size_t>(n));
    }
    FakeRequest request;
    const std::string line = data.substr(0, data.find("\r\n"));
    const auto sp1 = line.find(' ');
    const auto sp2 = line.find(' ', sp1 + 1);
    request.method = line.substr(0, sp1);
    request.path = line.substr(sp1 + 1, sp2 - sp1 - 1);
    const std::string body = data.substr(header_end + 4, content_length);
    request.body = nlohmann::json::parse(body, nullptr, false);
    if (request.body.is_discarded()) request.body = nullptr;
    {
      std::lock_guard lock(mu_);
      requests_.push_back(request);
    }
    const FakeResponse response = handler_(request);
    if (response.hang) {
      hung_.push_back(conn);
      return;
    }
    const std::string reply = "HTTP/1.1 " + std::to_string(response.status) +
                              " Fake\r\nContent-Type: application/json\r\nContent-Length: " +
                              std::to_string(response.body.size()) +
                              "\r\nConnection: close\r\n\r\n" + response.body;
    (void)!::write(conn, reply.data(), reply.size());
    ::close(conn);
  }

  static std::size_t parse_length(const std::string& headers) {
    std::string lower = headers;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const auto pos = lower.find("content-length:");
    if (pos == std::string::npos) return 0;
    return std::strtoul(lower.c_str() + pos + 15, nullptr, 10);
  }

  Handler handler_;
  TempDir dir_;
  std::string socket_path_;
  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};
  std::atomic<bool> stop_{false};
  std::vector<int> hung_;  // only touched by the serving thread until it is joined
  mutable std::mutex mu_;
  std::vector<FakeRequest> requests_;
  std::thread thread_;
};

struct PluginRun {
  int exit_code = -1;
  std::string out;
  std::string err;
  nlohmann::json json() const { return nlohmann::json::parse(out); }
};

// Runs the built `ipfence` binary with exactly `env` and `input` on stdin. With
// `close_stdout`, nobody reads the plugin's stdout, so its writes fail (EPIPE).
inline PluginRun run_plugin(const std::map<std::string, std::string>& env, const std::string& input,
                            bool close_stdout = false) {
  // A plugin that exits before reading stdin (VERSION) must not kill the test with SIGPIPE.
  std::signal(SIGPIPE, SIG_IGN);
  int in[2], out[2], err[2];
  if (::pipe2(in, O_CLOEXEC) || ::pipe2(out, O_CLOEXEC) || ::pipe2(err, O_CLOEXEC))
    throw std::runtime_error("pipe failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  std::vector<std::string> env_text;
  for (const auto& [k, v] : env) env_text.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& e : env_text) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string binary = IPFENCE_CNI_PLUGIN;
  char* argv[] = {binary.data(), nullptr};
  pid_t pid = 0;
  const int rc = ::posix_spawn(&pid, binary.c_str(), &actions, nullptr, argv, envp.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  if (rc != 0) throw std::runtime_error("cannot run " + binary + ": " + std::strerror(rc));
  if (close_stdout) ::close(out[0]);
  // The plugin reads all of stdin before writing, and a netconf fits a pipe buffer.
  (void)!::write(in[1], input.data(), input.size());
  ::close(in[1]);

  PluginRun run;
  pollfd fds[2] = {{close_stdout ? -1 : out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  std::string* sinks[2] = {&run.out, &run.err};
  int open_fds = close_stdout ? 1 : 2;
  while (open_fds > 0) {
    if (::poll(fds, 2, 30'000) <= 0) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !fds[i].revents) continue;
      char buf[4096];
      const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, static_cast<std::size_t>(n));
      } else {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& fd : fds)
    if (fd.fd >= 0) ::close(fd.fd);
  int status = 0;
  ::waitpid(pid, &status, 0);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return run;
}

}  // namespace ipfence::cni::testing

// A real etcd on loopback for tests and benchmarks: free ports, a data directory in a temp
// dir, killed with SIGKILL (also when the test process dies: PR_SET_PDEATHSIG) and removed
// afterwards. Short election timeouts make it ready in ~150 ms instead of ~1 s.
//
// Readiness is polled on a plain-HTTP metrics listener (/health says true once there is a
// leader), so the same check works when the client port speaks TLS.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/unit/store/temp_dir.h"

namespace ipfence::store::testing {

class EtcdProcess {
 public:
  // Client port speaks TLS with these files; client certificates signed by `ca` required.
  struct Tls {
    std::string ca, cert, key;
  };

  // $IPFENCE_ETCD, else etcd on the usual paths; nullopt when there is none.
  static std::optional<std::string> binary() {
    if (const char* env = std::getenv("IPFENCE_ETCD"); env && *env) return std::string(env);
    for (const char* path : {"/usr/bin/etcd", "/usr/local/bin/etcd"})
      if (::access(path, X_OK) == 0) return std::string(path);
    return std::nullopt;
  }

  // A port nothing listens on (for now): bound once by the kernel's choice, then closed.
  static int free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
      throw std::runtime_error("cannot find a free port");
    ::close(fd);
    return ntohs(addr.sin_port);
  }

  explicit EtcdProcess(std::optional<Tls> tls = std::nullopt) : tls_(std::move(tls)) {}
  EtcdProcess(const EtcdProcess&) = delete;
  EtcdProcess& operator=(const EtcdProcess&) = delete;
  ~EtcdProcess() { kill(); }

  // Starts etcd and waits until it has a leader. A second start() (after kill()) reuses
  // the ports and the data directory: the same member, restarted.
  void start() {
    for (int attempt = 0;; ++attempt) {
      if (client_port_ == 0 || (attempt > 0 && !started_once_)) {
        std::filesystem::remove_all(dir_.path() + "/data");
        client_port_ = free_port();
        peer_port_ = free_port();
        metrics_port_ = free_port();
      }
      spawn();
      if (wait_healthy()) {
        started_once_ = true;
        return;
      }
      kill();
      // Another process may have taken a port between free_port() and etcd's bind.
      if (started_once_ || attempt == 2)
        throw std::runtime_error("etcd did not become healthy; its log:\n" + log_tail());
    }
  }

  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  std::string endpoint() const { return "127.0.0.1:" + std::to_string(client_port_); }
  // etcd://127.0.0.1:P (etcds:// with TLS) followed by `query` (e.g. "?prefix=/t/").
  std::string url(const std::string& query = "") const {
    return (tls_ ? "etcds://" : "etcd://") + endpoint() + query;
  }
  const std::string& dir() const { return dir_.path(); }

 private:
  std::string http(int port) const { return "http://127.0.0.1:" + std::to_string(port); }

  void spawn() {
    const std::string client =
        (tls_ ? "https://127.0.0.1:" : "http://127.0.0.1:") + std::to_string(client_port_);
    const std::string peer = http(peer_port_);
    std::vector<std::string> args = {*binary(),
                                     "--name=ipfence-test",
                                     "--data-dir=" + dir_.path() + "/data",
                                     "--listen-client-urls=" + client,
                                     "--advertise-client-urls=" + client,
                                     "--listen-peer-urls=" + peer,
                                     "--initial-advertise-peer-urls=" + peer,
                                     "--initial-cluster=ipfence-test=" + peer,
                                     "--listen-metrics-urls=" + http(metrics_port_),
                                     "--heartbeat-interval=10",
                                     "--election-timeout=100",
                                     "--logger=zap",
                                     "--log-level=warn"};
    if (tls_) {
      args.push_back("--cert-file=" + tls_->cert);
      args.push_back("--key-file=" + tls_->key);
      args.push_back("--trusted-ca-file=" + tls_->ca);
      args.push_back("--client-cert-auth");
    }
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    const std::string log = dir_.path() + "/etcd.log";
    const int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    const pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      // Only async-signal-safe calls from here to exec.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(1);
      ::dup2(log_fd, 1);
      ::dup2(log_fd, 2);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(log_fd);
  }

  bool wait_healthy() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (std::chrono::steady_clock::now() < deadline) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
      if (get(metrics_port_, "/health").find("\"health\":\"true\"") != std::string::npos)
        return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  // A tiny HTTP/1.0 GET: enough for /health, and no client library in the test helper.
  static std::string get(int port, const std::string& path) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::string answer;
    timeval limit{1, 0};  // never hang on a port that someone else took
    if (fd >= 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
    if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
      const std::string request = "GET " + path + " HTTP/1.0\r\n\r\n";
      if (::write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
        char buf[4096];
        for (ssize_t n; (n = ::read(fd, buf, sizeof(buf))) > 0;) answer.append(buf, n);
      }
    }
    if (fd >= 0) ::close(fd);
    return answer;
  }

  std::string log_tail() const {
    std::ifstream in(dir_.path() + "/etcd.log");
    std::stringstream all;
    all << in.rdbuf();
    const std::string text = all.str();
    return text.size() > 3000 ? text.substr(text.size() - 3000) : text;
  }

  std::optional<Tls> tls_;
  TempDir dir_;
  int client_port_ = 0, peer_port_ = 0, metrics_port_ = 0;
  bool started_once_ = false;
  pid_t pid_ = -1;
};

}  // namespace ipfence::store::testing

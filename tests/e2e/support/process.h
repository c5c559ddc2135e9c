// Running programs from tests: one-shot with captured output, or a background child that is
// always killed when its guard goes out of scope (also when a test fails half-way).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace ipfence::e2e {

struct ProcessResult {
  int exit_code = -1;  // 128+N when killed by signal N
  std::string out;
  std::string err;
};

// Runs argv[0] (searched in PATH) with the current environment plus `env`, feeding `input`
// on stdin. Kills it after `timeout`.
ProcessResult run_process(const std::vector<std::string>& argv,
                          const std::map<std::string, std::string>& env = {},
                          const std::string& input = "",
                          std::chrono::milliseconds timeout = std::chrono::seconds(60));

// /bin/sh -c `command`; throws std::runtime_error with the output when it fails.
std::string sh(const std::string& command);
// The same, returning the result instead of throwing.
ProcessResult sh_result(const std::string& command);

class ChildProcess {
 public:
  ChildProcess() = default;
  // Starts argv with stdout+stderr appended to `log_path`.
  ChildProcess(const std::vector<std::string>& argv, const std::string& log_path,
               const std::map<std::string, std::string>& env = {});
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  bool running();
  // Sends `signal` and waits up to `timeout` for the exit; returns the exit code (128+N
  // when killed by signal N), or -1 if it did not exit (it is then SIGKILLed).
  int stop(int signal, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  const std::string& log_path() const { return log_path_; }
  std::string log() const;

 private:
  pid_t pid_ = -1;
  int exit_code_ = -1;
  std::string log_path_;
};

// Polls `ready` every 10 ms until it returns true or `timeout` passes.
bool wait_until(const std::function<bool()>& ready,
                std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace ipfence::e2e

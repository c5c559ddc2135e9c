// Runs the real ipfencectl binary (built by CMake; its path comes from IPFENCECTL_PATH) with
// arguments passed verbatim (no shell), and returns its exit code, stdout and stderr.
#pragma once

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace ipfence::ctl::process {

struct CtlRun {
  int exit_code = -1;
  std::string out;
  std::string err;
};

inline std::string slurp(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

// Files rather than pipes: the child may write more than a pipe holds before we read.
inline CtlRun run_ctl(const std::filesystem::path& scratch, const std::vector<std::string>& args,
                      const std::string& input = "") {
  const auto in_path = scratch / "stdin";
  const auto out_path = scratch / "stdout";
  const auto err_path = scratch / "stderr";
  std::ofstream(in_path, std::ios::binary | std::ios::trunc) << input;

  std::vector<std::string> argv_text = {IPFENCECTL_PATH};
  argv_text.insert(argv_text.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& arg : argv_text) argv.push_back(arg.data());
  argv.push_back(nullptr);

  const pid_t pid = fork();
  if (pid == 0) {
    const int in = open(in_path.c_str(), O_RDONLY);
    const int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (in < 0 || out < 0 || err < 0) _exit(126);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    execv(argv[0], argv.data());
    _exit(127);
  }
  CtlRun run;
  int status = 0;
  if (pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status)) {
    run.exit_code = WEXITSTATUS(status);
  }
  run.out = slurp(out_path);
  run.err = slurp(err_path);
  return run;
}

}  // namespace ipfence::ctl::process

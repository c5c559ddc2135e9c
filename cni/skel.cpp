#include "cni/skel.h"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <exception>

#include "cni/cni_result.h"
#include "cni/link_mac.h"

namespace ipfence::cni {
namespace {

// A netconf is a few KiB; anything near this is not one.
constexpr std::size_t kMaxStdinBytes = 16u << 20;

int fail(const PluginIo& io, const CniError& error, std::string_view cni_version) {
  io.write_stdout(render_error(error, cni_version) + "\n");
  return 1;
}

bool write_fd(int fd, std::string_view text) {
  while (!text.empty()) {
    const ssize_t n = ::write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    text.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

CniOr<std::string> read_fd(int fd) {
  std::string text;
  char buf[8192];
  while (true) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      return cni_error(kIoFailure, std::string("cannot read the network config from stdin: ") +
                                       std::strerror(errno));
    if (n == 0) return text;
    if (text.size() + static_cast<std::size_t>(n) > kMaxStdinBytes)
      return cni_error(kDecodeFailure, "the network config on stdin is larger than 16 MiB");
    text.append(buf, static_cast<std::size_t>(n));
  }
}

}  // namespace

int plugin_main(const PluginIo& io, const Dispatch& dispatch) {
  auto verb = parse_command(io.env);
  if (!verb.ok()) return fail(io, verb.error(), kLatestVersion);
  // VERSION needs neither stdin nor any other variable.
  if (*verb == Verb::version) return io.write_stdout(render_version() + "\n") ? 0 : 1;

  auto input = io.read_stdin();
  if (!input.ok()) return fail(io, input.error(), kLatestVersion);
  // Known before the netconf is checked, so even env errors speak the caller's version.
  const std::string requested = peek_cni_version(*input);

  auto env = parse_cni_env(io.env);
  if (!env.ok()) return fail(io, env.error(), requested);
  auto conf = parse_netconf(*input, env->verb);
  if (!conf.ok()) return fail(io, conf.error(), requested);

  // Errors are values throughout; this only guarantees that a surprise (bad_alloc, a json
  // type_error from a path we missed) still reaches the runtime as CNI error JSON.
  try {
    AgentClient agent(conf->socket, conf->timeout);
    const CniStatus status = dispatch(Invocation{*env, *conf, agent, io});
    if (!status.ok()) return fail(io, status.error(), conf->cni_version);
  } catch (const std::exception& e) {
    return fail(io, cni_error(kInternal, std::string("unexpected error: ") + e.what()),
                conf->cni_version);
  }
  return 0;
}

PluginIo process_io() {
  PluginIo io;
  io.env = [](std::string_view name) -> std::optional<std::string> {
    const char* value = std::getenv(std::string(name).c_str());
    if (!value) return std::nullopt;
    return std::string(value);
  };
  io.read_stdin = [] { return read_fd(STDIN_FILENO); };
  io.write_stdout = [](std::string_view text) { return write_fd(STDOUT_FILENO, text); };
  io.log = [](std::string_view line) {
    write_fd(STDERR_FILENO, "ipfence: " + std::string(line) + "\n");
  };
  io.read_mac = read_link_mac;
  return io;
}

}  // namespace ipfence::cni

#include "agent/signals.h"

#include <pthread.h>
#include <sys/signalfd.h>

#include <cerrno>
#include <csignal>
#include <system_error>

namespace ipfence::agent {

ShutdownSignals ShutdownSignals::install() {
  // A peer that hangs up mid-response must cost an EPIPE, not the process.
  std::signal(SIGPIPE, SIG_IGN);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  if (int err = pthread_sigmask(SIG_BLOCK, &set, nullptr); err != 0)
    throw std::system_error(err, std::generic_category(), "block SIGTERM/SIGINT");
  // An ignored signal is discarded, not queued: a shell starts background jobs with SIGINT
  // ignored. Default disposition while blocked means "pending until the signalfd reads it".
  std::signal(SIGTERM, SIG_DFL);
  std::signal(SIGINT, SIG_DFL);
  UniqueFd fd(::signalfd(-1, &set, SFD_CLOEXEC));
  if (!fd) throw std::system_error(errno, std::generic_category(), "signalfd");
  return ShutdownSignals(std::move(fd));
}

int ShutdownSignals::wait() {
  for (;;) {
    signalfd_siginfo info{};
    ssize_t n = ::read(fd_.get(), &info, sizeof info);
    if (n == static_cast<ssize_t>(sizeof info)) return static_cast<int>(info.ssi_signo);
    if (n < 0 && errno != EINTR)
      throw std::system_error(errno, std::generic_category(), "read signalfd");
  }
}

}  // namespace ipfence::agent

// The reader side of the watcher: records from the ring buffer, decoded into WatchEvents and
// handed to the agent's callback, on a thread of their own or on the caller's (poll()).
//
// The reader thread sleeps in epoll on two fds: the ring buffer's (libbpf's epoll fd, itself
// pollable) and an eventfd that stop() writes. So an event wakes it at once (no polling
// interval in the detection latency), and stop() does not wait for a timeout either.
#include <bpf/libbpf.h>
#include <net/if.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <thread>

#include "agent/datapath/os_error.h"
#include "agent/datapath/watch_impl.h"
#include "agent/datapath/watch_record.h"

namespace ipfence::datapath {

void RingBufferDeleter::operator()(ring_buffer* rb) const {
  ring_buffer__free(rb);
}

std::string Watcher::Impl::master_name(std::uint32_t ifindex) {
  const std::lock_guard lock(names_mu);
  const auto it = names.find(ifindex);
  if (it != names.end()) return it->second;
  // A filter this object did not attach (an earlier agent's, still on a master): the name in
  // the reader's namespace, which is the agent's own. Kept, as a syscall per event would
  // cost the reader more than everything else it does (ifindexes are not reused soon).
  char name[IF_NAMESIZE] = {};
  std::string found = ::if_indextoname(ifindex, name) != nullptr
                          ? std::string(name)
                          : "ifindex " + std::to_string(ifindex);
  names.emplace(ifindex, found);
  return found;
}

int Watcher::Impl::on_record(void* ctx, void* data, std::size_t size) {
  auto* self = static_cast<Impl*>(ctx);
  Result<WatchEvent> ev = decode_watch_record(data, size);
  if (!ev.ok()) {
    self->undecodable.fetch_add(1, std::memory_order_relaxed);
    return 0;  // skip it; the records after it are still good
  }
  ev->master = self->master_name(ev->ifindex);
  self->delivered.fetch_add(1, std::memory_order_relaxed);
  if (self->current == nullptr || !*self->current) return 0;
  // libbpf is C: an exception must not unwind through it. The reader goes on either way.
  try {
    (*self->current)(*ev);
  } catch (...) {
    self->callback_failures.fetch_add(1, std::memory_order_relaxed);
  }
  return 0;
}

void Watcher::Impl::read_loop() {
  current = &callback;
  for (;;) {
    epoll_event ready[2];
    const int n = ::epoll_wait(epoll.get(), ready, 2, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      // Cannot happen with valid fds; do not spin if it does.
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    bool stop = false;
    for (int i = 0; i < n; ++i) stop = stop || ready[i].data.fd == wake.get();
    ring_buffer__consume(ring.get());  // also on stop: hand over what was written before it
    if (stop) break;
  }
  current = nullptr;
}

Status Watcher::start(WatchCallback callback) {
  if (impl_->reader.joinable())
    return make_error(ErrorCode::invalid_argument, "the watch reader already runs");
  agent::UniqueFd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake) return os_error("eventfd", errno);
  agent::UniqueFd epoll(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll) return os_error("epoll_create1", errno);
  for (const int fd : {ring_buffer__epoll_fd(impl_->ring.get()), wake.get()}) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, fd, &ev) != 0) return os_error("epoll_ctl", errno);
  }
  impl_->wake = std::move(wake);
  impl_->epoll = std::move(epoll);
  impl_->callback = std::move(callback);
  impl_->reader = std::thread([impl = impl_.get()] { impl->read_loop(); });
  return {};
}

void Watcher::stop() {
  if (!impl_ || !impl_->reader.joinable()) return;
  const std::uint64_t one = 1;
  // An eventfd write of 1 cannot fail short of overflowing 2^64 - 2 pending stops.
  [[maybe_unused]] const ssize_t n = ::write(impl_->wake.get(), &one, sizeof(one));
  impl_->reader.join();
  impl_->epoll.reset();
  impl_->wake.reset();
  impl_->callback = nullptr;
}

bool Watcher::running() const {
  return impl_->reader.joinable();
}

Result<std::size_t> Watcher::poll(const WatchCallback& callback,
                                  std::chrono::milliseconds timeout) {
  if (running()) return make_error(ErrorCode::invalid_argument, "poll while the watch reader runs");
  impl_->current = &callback;
  const long ms = timeout.count();
  const int n = ms > 0 ? ring_buffer__poll(impl_->ring.get(), ms > INT_MAX ? INT_MAX : int(ms))
                       : ring_buffer__consume(impl_->ring.get());
  impl_->current = nullptr;
  if (n == -EINTR) return std::size_t{0};
  if (n < 0) return os_error("read the watch ring buffer", n);
  return static_cast<std::size_t>(n);
}

}  // namespace ipfence::datapath

// A connected socket as a Beast SyncReadStream and SyncWriteStream (stream_traits.hpp), so
// that Beast's HTTP parser and serializer run over a plain fd: each read or write waits
// at most `timeout` for the peer (poll), which Asio's blocking sockets cannot do, and never
// raises SIGPIPE.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/system/system_error.hpp>
#include <cerrno>
#include <chrono>
#include <cstddef>

namespace ipfence::agent {

class FdStream {
 public:
  FdStream(int fd, std::chrono::milliseconds timeout) : fd_(fd), timeout_(timeout) {}

  template <class MutableBuffers>
  std::size_t read_some(const MutableBuffers& buffers, boost::beast::error_code& ec) {
    const boost::asio::mutable_buffer first = *boost::asio::buffer_sequence_begin(buffers);
    if (!wait_for(POLLIN, ec)) return 0;
    ssize_t n;
    do n = ::recv(fd_, first.data(), first.size(), 0);
    while (n < 0 && errno == EINTR);
    return finish(n, ec, /*zero_is_eof=*/first.size() > 0);
  }

  // All the buffers in one sendmsg (a response's header and body are two): one write where
  // sending the first alone would take two.
  template <class ConstBuffers>
  std::size_t write_some(const ConstBuffers& buffers, boost::beast::error_code& ec) {
    iovec parts[kMaxParts];
    msghdr message{};
    message.msg_iov = parts;
    for (auto it = boost::asio::buffer_sequence_begin(buffers);
         it != boost::asio::buffer_sequence_end(buffers) && message.msg_iovlen < kMaxParts; ++it) {
      const boost::asio::const_buffer part = *it;
      parts[message.msg_iovlen++] = {const_cast<void*>(part.data()), part.size()};
    }
    if (!wait_for(POLLOUT, ec)) return 0;
    ssize_t n;
    do n = ::sendmsg(fd_, &message, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return finish(n, ec, /*zero_is_eof=*/false);
  }

  // The throwing forms the concepts require; the server uses only the ones above.
  template <class MutableBuffers>
  std::size_t read_some(const MutableBuffers& buffers) {
    boost::beast::error_code ec;
    const std::size_t n = read_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }
  template <class ConstBuffers>
  std::size_t write_some(const ConstBuffers& buffers) {
    boost::beast::error_code ec;
    const std::size_t n = write_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }

 private:
  // Whether `events` came within the timeout; else ec says why not (timed_out or errno).
  bool wait_for(short events, boost::beast::error_code& ec) {
    pollfd p{fd_, events, 0};
    for (;;) {
      const int ready = ::poll(&p, 1, static_cast<int>(timeout_.count()));
      if (ready > 0) return true;  // POLLHUP and POLLERR too: recv/send say what happened
      if (ready == 0) {
        ec = boost::asio::error::timed_out;
        return false;
      }
      if (errno != EINTR) {
        ec = boost::beast::error_code(errno, boost::system::system_category());
        return false;
      }
    }
  }

  static std::size_t finish(ssize_t n, boost::beast::error_code& ec, bool zero_is_eof) {
    if (n < 0) {
      ec = boost::beast::error_code(errno, boost::system::system_category());
      return 0;
    }
    if (n == 0 && zero_is_eof) ec = boost::asio::error::eof;
    return static_cast<std::size_t>(n);
  }

  static constexpr std::size_t kMaxParts = 16;

  int fd_;
  std::chrono::milliseconds timeout_;
};

}  // namespace ipfence::agent

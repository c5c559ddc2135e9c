#include "agent/datapath/libbpf_log.h"

#include <bpf/libbpf.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <mutex>

namespace ipfence::datapath {
namespace {

thread_local std::string* t_capture = nullptr;

int print(enum libbpf_print_level level, const char* fmt, va_list args) {
  if (t_capture != nullptr) {
    char buf[1024];
    const int n = std::vsnprintf(buf, sizeof(buf), fmt, args);
    if (n > 0)
      t_capture->append(buf, std::min<std::size_t>(static_cast<std::size_t>(n), sizeof(buf) - 1));
    return n;
  }
  if (level == LIBBPF_DEBUG) return 0;
  return std::vfprintf(stderr, fmt, args);
}

}  // namespace

LibbpfCapture::LibbpfCapture() : previous_(t_capture) {
  static std::once_flag installed;
  std::call_once(installed, [] { libbpf_set_print(print); });
  t_capture = &text_;
}

LibbpfCapture::~LibbpfCapture() {
  t_capture = previous_;
}

std::string LibbpfCapture::tail() const {
  constexpr std::size_t kMax = 4000;
  std::string s = text_.size() <= kMax ? text_ : "..." + text_.substr(text_.size() - kMax);
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

Error with_log(Error error, const LibbpfCapture& log) {
  const std::string text = log.tail();
  if (!text.empty()) error.message += "\nlibbpf: " + text;
  return error;
}

}  // namespace ipfence::datapath

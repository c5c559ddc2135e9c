#include "ipam/store/etcd_watch.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

#include "ipam/store/etcd_codec.h"
#include "ipam/store/etcd_curl.h"

namespace ipfence::store::etcd {
namespace {

using namespace std::chrono;

struct CurlMultiFree {
  void operator()(CURLM* multi) const { curl_multi_cleanup(multi); }
};

constexpr milliseconds kFirstBackoff{50};
constexpr milliseconds kMaxBackoff{1000};

class EtcdWatch final : public Watch {
 public:
  EtcdWatch(std::shared_ptr<HttpClient> http, WatchTarget target)
      : http_(std::move(http)),
        target_(std::move(target)),
        next_revision_(target_.after_revision + 1),
        headers_(json_headers()),
        multi_(curl_multi_init()) {}

  ~EtcdWatch() override { stop(); }

  void start() {
    thread_ = std::thread([this] { run(); });
  }

  // Waits for etcd's "created" (or a final error) until the client's timeout.
  Status wait_created() {
    std::unique_lock lock(mu_);
    changed_.wait_for(lock, http_->options().timeout,
                      [&] { return created_ || failure_.has_value(); });
    if (created_) return {};
    if (failure_) return *failure_;
    return make_error(ErrorCode::unavailable,
                      "etcd unreachable at " + http_->endpoint_list() + ": no watch within " +
                          std::to_string(http_->options().timeout.count()) + " ms" +
                          (last_problem_.empty() ? "" : " (" + last_problem_ + ")"));
  }

  void stop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    changed_.notify_all();
    if (multi_) curl_multi_wakeup(multi_.get());
    if (thread_.joinable()) thread_.join();
  }

  Result<std::vector<Event>> next(milliseconds timeout) override {
    std::unique_lock lock(mu_);
    changed_.wait_for(lock, timeout, [&] { return !pending_.empty() || failure_.has_value(); });
    if (!pending_.empty()) {
      std::vector<Event> events(std::make_move_iterator(pending_.begin()),
                                std::make_move_iterator(pending_.end()));
      pending_.clear();
      return events;
    }
    if (failure_) return *failure_;
    // Without a stream for longer than one request may take, "no events" would be a claim
    // we cannot make: the view may be stale. Say so (the thread keeps reconnecting, and a
    // later call delivers what was missed). A member failing over takes far less.
    if (disconnected_since_) {
      const auto down = duration_cast<milliseconds>(steady_clock::now() - *disconnected_since_);
      if (down >= http_->options().timeout)
        return make_error(ErrorCode::unavailable,
                          "etcd unreachable at " + http_->endpoint_list() +
                              ": no watch stream for " + std::to_string(down.count()) + " ms" +
                              (last_problem_.empty() ? "" : " (" + last_problem_ + ")"));
    }
    return std::vector<Event>{};
  }

 private:
  bool stopping() {
    std::lock_guard lock(mu_);
    return stopping_ || failure_.has_value();
  }

  void run() {
    auto backoff = kFirstBackoff;
    while (!stopping()) {
      const std::size_t endpoint = http_->preferred_endpoint();
      const bool got_messages = stream(endpoint);
      if (stopping()) return;
      {
        std::lock_guard lock(mu_);
        if (!disconnected_since_) disconnected_since_ = steady_clock::now();
      }
      // The stream ended without being asked to: that member is gone or restarting.
      http_->failed(endpoint);
      if (got_messages) backoff = kFirstBackoff;
      std::unique_lock lock(mu_);
      if (changed_.wait_for(lock, backoff, [&] { return stopping_; })) return;
      backoff = std::min(backoff * 2, kMaxBackoff);
    }
  }

  // One connection, until it breaks or we stop. True when etcd sent anything.
  bool stream(std::size_t endpoint) {
    CurlEasy easy = new_easy(http_->options(), headers_.get());
    if (!easy || !multi_) {
      fail(make_error(ErrorCode::internal, "curl handle creation failed"));
      return false;
    }
    CURL* c = easy.get();
    const std::string url = http_->url(endpoint, "/v3/watch");
    std::int64_t from;
    {
      std::lock_guard lock(mu_);
      from = next_revision_;
    }
    const std::string body = watch_body(target_.key, target_.range_end, from);
    char error[CURL_ERROR_SIZE] = {};
    buffer_.clear();
    connection_problem_.clear();
    messages_ = 0;
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &EtcdWatch::on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, this);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(http_->options().timeout.count()));

    curl_multi_add_handle(multi_.get(), c);
    int running = 1;
    CURLcode result = CURLE_OK;
    while (running > 0 && !stopping()) {
      if (curl_multi_perform(multi_.get(), &running) != CURLM_OK) break;
      if (running > 0) curl_multi_poll(multi_.get(), nullptr, 0, 1000, nullptr);
    }
    int queued = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi_.get(), &queued))
      if (msg->msg == CURLMSG_DONE) result = msg->data.result;
    curl_multi_remove_handle(multi_.get(), c);

    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    std::string problem = connection_problem_;
    if (problem.empty() && result != CURLE_OK)
      problem = error[0] ? error : curl_easy_strerror(result);
    else if (problem.empty() && status != 200 && status != 0)
      problem = parse_error(status, buffer_).message;
    else if (problem.empty())
      problem = "the watch stream ended";
    std::lock_guard lock(mu_);
    last_problem_ = http_->options().endpoints[endpoint] + ": " + problem;
    return messages_ > 0;
  }

  static std::size_t on_data(char* data, std::size_t size, std::size_t count, void* self_ptr) {
    auto* self = static_cast<EtcdWatch*>(self_ptr);
    self->buffer_.append(data, size * count);
    std::size_t start = 0;
    for (std::size_t end; (end = self->buffer_.find('\n', start)) != std::string::npos;
         start = end + 1) {
      // Returning a short count makes curl abort the transfer: the stream is over for us.
      if (!self->on_line(std::string_view(self->buffer_).substr(start, end - start))) return 0;
    }
    self->buffer_.erase(0, start);
    return size * count;
  }

  // One message; false ends this connection (to reconnect, or for good after fail()).
  bool on_line(std::string_view line) {
    if (line.find_first_not_of(" \r\t") == std::string_view::npos) return true;
    auto message = parse_watch_line(line, target_.prefix);
    std::lock_guard lock(mu_);
    if (stopping_) return false;
    ++messages_;
    if (!message.ok()) {
      connection_problem_ = message.error().message;
      return false;
    }
    switch (message->kind) {
      case WatchMessage::Kind::created:
        created_ = true;
        disconnected_since_.reset();
        break;
      case WatchMessage::Kind::events:
        next_revision_ = message->events.back().kv.mod_revision + 1;
        for (auto& event : message->events) pending_.push_back(std::move(event));
        break;
      case WatchMessage::Kind::progress:
        // Sent only for a watch that is caught up: nothing up to here is missing.
        next_revision_ = std::max(next_revision_, message->revision + 1);
        return true;
      case WatchMessage::Kind::compacted:
        failure_ = make_error(ErrorCode::compacted,
                              "watch from revision " + std::to_string(next_revision_) +
                                  ": etcd has compacted its history up to revision " +
                                  std::to_string(message->compact_revision) +
                                  "; list again and watch from there");
        break;
      case WatchMessage::Kind::canceled:
        connection_problem_ = "etcd canceled the watch: " + message->reason;
        return false;
    }
    changed_.notify_all();
    return !failure_;
  }

  void fail(Error error) {
    std::lock_guard lock(mu_);
    failure_ = std::move(error);
    changed_.notify_all();
  }

  const std::shared_ptr<HttpClient> http_;
  const WatchTarget target_;

  std::mutex mu_;
  std::condition_variable changed_;
  std::deque<Event> pending_;
  std::optional<Error> failure_;  // final: the watch delivers nothing more
  bool created_ = false;
  bool stopping_ = false;
  std::int64_t next_revision_;  // where a reconnect starts
  std::string last_problem_;    // why the last connection ended, for wait_created()
  // Since when no stream has been confirmed (unset while one is): next() reports the store
  // unavailable once this is older than the client's timeout.
  std::optional<steady_clock::time_point> disconnected_since_;
  int messages_ = 0;  // messages on the current connection

  // Used by the stream thread only.
  std::string buffer_;              // an incomplete line
  std::string connection_problem_;  // what a message said about why the stream must end
  CurlList headers_;
  std::unique_ptr<CURLM, CurlMultiFree> multi_;
  std::thread thread_;
};

}  // namespace

Result<std::unique_ptr<Watch>> start_watch(std::shared_ptr<HttpClient> http, WatchTarget target) {
  init_curl();
  auto watch = std::make_unique<EtcdWatch>(std::move(http), std::move(target));
  watch->start();
  IPF_TRY(watch->wait_created());
  return std::unique_ptr<Watch>(std::move(watch));
}

}  // namespace ipfence::store::etcd

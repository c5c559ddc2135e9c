#include "cni/agent_client.h"

#include <cstring>

#include "cni/unix_http.h"

namespace ipfence::cni {
namespace {

using nlohmann::json;

// Replies are small JSON documents; a runaway body means something else answers the socket.
constexpr std::size_t kMaxReplyBytes = 16u << 20;
constexpr std::size_t kSnippetBytes = 200;

std::string snippet(const std::string& text) {
  if (text.size() <= kSnippetBytes) return text;
  return text.substr(0, kSnippetBytes) + "...";
}

// Seconds with up to 3 decimals, as the user wrote ipam.timeout.
std::string seconds_text(std::chrono::milliseconds ms) {
  std::string text = std::to_string(ms.count() / 1000);
  if (ms.count() % 1000 != 0) {
    std::string frac = std::to_string(1000 + ms.count() % 1000).substr(1);
    while (frac.back() == '0') frac.pop_back();
    text += "." + frac;
  }
  return text + "s";
}

}  // namespace

AgentClient::AgentClient(std::string socket_path, std::chrono::milliseconds timeout)
    : socket_path_(std::move(socket_path)), timeout_(timeout) {}

AgentClient::~AgentClient() = default;

CniOr<AgentReply> AgentClient::get(std::string_view path) {
  return request("GET", path, nullptr);
}

CniOr<AgentReply> AgentClient::post(std::string_view path, const json& body) {
  const std::string text = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return request("POST", path, &text);
}

CniOr<AgentReply> AgentClient::request(std::string_view method, std::string_view path,
                                       const std::string* body) {
  const std::string what = std::string(method) + " " + std::string(path);
  HttpAnswer answer;
  HttpFailure failure;
  if (!unix_http_request(socket_path_, method, path, body, timeout_, kMaxReplyBytes, answer,
                         failure)) {
    switch (failure.kind) {
      case HttpFailure::Kind::timeout:
        return cni_error(kTryAgainLater,
                         "ipfence-agent at " + socket_path_ + " did not answer " + what +
                             " within ipam.timeout (" + seconds_text(timeout_) +
                             "): Operation timed out after " + std::to_string(timeout_.count()) +
                             " milliseconds " + failure.detail +
                             "; is the agent overloaded or stuck?");
      case HttpFailure::Kind::protocol:
        return cni_error(kInternal, "ipfence-agent at " + socket_path_ + " answered " + what +
                                        " with something that is not HTTP: " + failure.detail);
      case HttpFailure::Kind::connect:
        break;
    }
    return cni_error(kTryAgainLater, "ipfence-agent is not reachable at " + socket_path_ +
                                         ": Couldn't connect to server (" + failure.detail +
                                         "); is the agent running on this node?");
  }
  AgentReply reply;
  reply.status = answer.status;
  reply.raw = std::move(answer.body);
  reply.body = json::parse(reply.raw, nullptr, /*allow_exceptions=*/false);
  if (reply.body.is_discarded()) {
    reply.body = nullptr;
    if (reply.ok())
      return cni_error(kInternal, "ipfence-agent at " + socket_path_ + " answered " + what +
                                      " with a body that is not JSON: " + snippet(reply.raw));
  }
  return reply;
}

std::string agent_error_name(const AgentReply& reply) {
  if (!reply.body.is_object()) return {};
  auto error = reply.body.find("error");
  if (error == reply.body.end() || !error->is_object()) return {};
  auto code = error->find("code");
  if (code == error->end() || !code->is_string()) return {};
  return code->get<std::string>();
}

CniError agent_error(const AgentReply& reply) {
  const json* error = nullptr;
  if (reply.body.is_object()) {
    auto it = reply.body.find("error");
    if (it != reply.body.end() && it->is_object()) error = &*it;
  }
  const std::string name = agent_error_name(reply);
  if (error) {
    auto message = error->find("message");
    auto cni_code = error->find("cniCode");
    if (message != error->end() && message->is_string()) {
      int code = 0;
      if (cni_code != error->end() && cni_code->is_number_integer()) code = cni_code->get<int>();
      // An agent older or newer than this plugin may leave cniCode out: the shared table in
      // ipam/result.cpp still knows its error name.
      if (code <= 0) {
        auto kind = error_code_from_name(name);
        code = kind ? cni_error_code(*kind) : kInternal;
      }
      // No "details": libcni prints "msg; details", and the code already says the kind.
      return cni_error(code, message->get<std::string>());
    }
  }
  const int code = reply.status == 503 ? kTryAgainLater : kInternal;
  return cni_error(code, "ipfence-agent answered HTTP " + std::to_string(reply.status) +
                             " without an error body: " + snippet(reply.raw));
}

}  // namespace ipfence::cni

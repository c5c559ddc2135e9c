#include "agent/http_router.h"

#include "ipam/result.h"

namespace ipfence::agent {

HttpResponse json_response(int status, const nlohmann::json& body) {
  HttpResponse response;
  response.status = status;
  // Invalid UTF-8 (from a request echoed in a message) is replaced, never a throw.
  response.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  return response;
}

HttpResponse json_error(int status, std::string_view code, int cni_code, std::string_view message) {
  return json_response(
      status,
      {{"error",
        {{"code", std::string(code)}, {"cniCode", cni_code}, {"message", std::string(message)}}}});
}

void HttpRouter::add(const std::string& method, const std::string& path, HttpHandler handler) {
  routes_[path][method] = std::move(handler);
}

HttpResponse HttpRouter::dispatch(const HttpRequest& request) const {
  auto path = routes_.find(request.path);
  if (path == routes_.end())
    return json_error(404, error_code_name(ErrorCode::not_found),
                      cni_error_code(ErrorCode::not_found),
                      "no such endpoint: " + request.path + " (see docs/agent-api.md)");
  auto handler = path->second.find(request.method);
  if (handler == path->second.end()) {
    std::string allow;
    for (const auto& [method, unused] : path->second) allow += (allow.empty() ? "" : ", ") + method;
    HttpResponse response =
        json_error(405, error_code_name(ErrorCode::invalid_argument),
                   cni_error_code(ErrorCode::invalid_argument),
                   request.method + " is not allowed on " + request.path + "; use " + allow);
    response.headers.emplace_back("Allow", allow);
    return response;
  }
  return handler->second(request);
}

}  // namespace ipfence::agent

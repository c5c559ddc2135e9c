// Plain HTTP request/response values and the path + method table of the API. No sockets
// here: the server (http_server.h) feeds requests in, tests can too.
#pragma once

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ipfence::agent {

struct HttpRequest {
  std::string method;  // "GET", "POST"
  std::string path;    // without the query string
  std::string body;
};

struct HttpResponse {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;  // extra ones, e.g. Allow
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

HttpResponse json_response(int status, const nlohmann::json& body);
// The API's error body: {"error":{"code":..,"cniCode":..,"message":..}} (docs/agent-api.md).
HttpResponse json_error(int status, std::string_view code, int cni_code, std::string_view message);

class HttpRouter {
 public:
  void add(const std::string& method, const std::string& path, HttpHandler handler);
  // The handler's answer; 404 for an unknown path, 405 (with Allow) for a known path asked
  // with another method.
  HttpResponse dispatch(const HttpRequest& request) const;

 private:
  std::map<std::string, std::map<std::string, HttpHandler>> routes_;  // path -> method -> h
};

}  // namespace ipfence::agent

#include "agent/http_router.h"

#include <gtest/gtest.h>

namespace ipfence::agent {
namespace {

using nlohmann::json;

HttpRouter make_router() {
  HttpRouter router;
  router.add("GET", "/v1/healthz", [](const HttpRequest&) {
    return json_response(200, {{"status", "ok"}});
  });
  router.add("POST", "/v1/echo", [](const HttpRequest& r) {
    return json_response(200, {{"body", r.body}});
  });
  router.add("PUT", "/v1/echo", [](const HttpRequest&) { return json_response(204, nullptr); });
  return router;
}

TEST(HttpRouterTest, DispatchesByPathAndMethod) {
  HttpRouter router = make_router();
  HttpResponse ok = router.dispatch({"GET", "/v1/healthz", ""});
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(json::parse(ok.body), json({{"status", "ok"}}));
  EXPECT_EQ(json::parse(router.dispatch({"POST", "/v1/echo", "x"}).body)["body"], "x");
}

TEST(HttpRouterTest, UnknownPathIs404) {
  HttpResponse missing = make_router().dispatch({"GET", "/v1/nope", ""});
  EXPECT_EQ(missing.status, 404);
  json error = json::parse(missing.body)["error"];
  EXPECT_EQ(error["code"], "not_found");
  EXPECT_EQ(error["message"], "no such endpoint: /v1/nope (see docs/agent-api.md)");
}

TEST(HttpRouterTest, WrongMethodIs405WithAllow) {
  HttpResponse wrong = make_router().dispatch({"GET", "/v1/echo", ""});
  EXPECT_EQ(wrong.status, 405);
  ASSERT_EQ(wrong.headers.size(), 1u);
  EXPECT_EQ(wrong.headers[0], std::make_pair(std::string("Allow"), std::string("POST, PUT")));
  EXPECT_EQ(json::parse(wrong.body)["error"]["message"],
            "GET is not allowed on /v1/echo; use POST, PUT");
}

TEST(HttpRouterTest, InvalidUtf8InAMessageIsReplacedNotThrown) {
  HttpResponse response = json_error(400, "invalid_argument", 7, "bad \xff byte");
  EXPECT_EQ(response.status, 400);
  EXPECT_NO_THROW(json::parse(response.body));
}

}  // namespace
}  // namespace ipfence::agent

// The etcd store URL: endpoints, defaults, options, and errors that show the form.
#include "ipam/store/etcd_url.h"

#include <gtest/gtest.h>

namespace ipfence::store::etcd {
namespace {

using std::chrono::milliseconds;

TEST(EtcdUrl, EndpointsAndDefaults) {
  auto options = parse_url("etcd://10.0.0.1:2379,etcd-2.example:12379,[fd00::1]:2379,host3");
  ASSERT_TRUE(options.ok()) << options.error().message;
  EXPECT_EQ(options->client.endpoints,
            (std::vector<std::string>{"10.0.0.1:2379", "etcd-2.example:12379", "[fd00::1]:2379",
                                      "host3:2379"}));
  EXPECT_FALSE(options->client.https);
  EXPECT_EQ(options->prefix, "/ipfence/");
  EXPECT_EQ(options->client.timeout, milliseconds(5000));
  EXPECT_EQ(options->max_txn_ops, 128u);
  EXPECT_EQ(describe(*options),
            "etcd://10.0.0.1:2379,etcd-2.example:12379,[fd00::1]:2379,host3:2379?prefix=/ipfence/");
}

TEST(EtcdUrl, Options) {
  auto options = parse_url("etcd://127.0.0.1:2379/?prefix=/team%20a/&timeout=250ms");
  ASSERT_TRUE(options.ok()) << options.error().message;
  EXPECT_EQ(options->prefix, "/team a/");
  EXPECT_EQ(options->client.timeout, milliseconds(250));
  EXPECT_EQ(parse_url("etcd://h:1?timeout=1.5s")->client.timeout, milliseconds(1500));
  EXPECT_EQ(parse_url("etcd://h:1?timeout=2")->client.timeout, milliseconds(2000));
}

TEST(EtcdUrl, TlsFilesOrEtcdsMeanHttps) {
  auto tls = parse_url("etcd://h:2379?cacert=/etc/ca.pem&cert=/etc/c.pem&key=/etc/k.pem");
  ASSERT_TRUE(tls.ok()) << tls.error().message;
  EXPECT_TRUE(tls->client.https);
  EXPECT_EQ(tls->client.ca_file, "/etc/ca.pem");
  EXPECT_EQ(tls->client.cert_file, "/etc/c.pem");
  EXPECT_EQ(tls->client.key_file, "/etc/k.pem");
  EXPECT_EQ(describe(*tls), "etcds://h:2379?prefix=/ipfence/") << "no file paths";

  auto etcds = parse_url("etcds://h:2379");
  ASSERT_TRUE(etcds.ok());
  EXPECT_TRUE(etcds->client.https);
  EXPECT_TRUE(etcds->client.ca_file.empty()) << "system CAs";
}

TEST(EtcdUrl, MistakesAreInvalidArgumentsShowingTheForm) {
  for (const char* url : {"etcd://", "etcd://?prefix=/x/", "etcd://h:2379,", "etcd://h:0",
                          "etcd://h:99999", "etcd://h:port", "etcd://user@h:2379", "etcd://h/path",
                          "etcd://[fd00::1", "etcd://fd00::1:2379", "etcd://h?colour=blue",
                          "etcd://h?timeout=0s", "etcd://h?timeout=soon", "etcd://h?cert=/c.pem",
                          "etcd://h?cacert=", "etcd://h?prefix=%zz", "http://h:2379"}) {
    auto options = parse_url(url);
    ASSERT_FALSE(options.ok()) << url;
    EXPECT_EQ(options.error().code, ErrorCode::invalid_argument) << url;
    EXPECT_NE(options.error().message.find(url), std::string::npos) << options.error().message;
    EXPECT_NE(options.error().message.find("etcd://host:port"), std::string::npos)
        << options.error().message;
  }
}

}  // namespace
}  // namespace ipfence::store::etcd

// libcurl set-up shared by the etcd request client and the watch stream; only their .cpp
// files include it, so libcurl stays out of every other header.
#pragma once

#include <curl/curl.h>

#include <memory>

#include "ipam/store/etcd_http.h"

namespace ipfence::store::etcd {

struct CurlEasyFree {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
using CurlEasy = std::unique_ptr<CURL, CurlEasyFree>;

struct CurlListFree {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using CurlList = std::unique_ptr<curl_slist, CurlListFree>;

// curl_global_init once per process, before the first handle.
void init_curl();

// A new easy handle with what every etcd request needs: TLS files, no signals (we run on
// threads), TCP keepalive (a watch must notice a peer that vanished), JSON headers. The
// headers list must outlive the handle's transfers.
CurlEasy new_easy(const ClientOptions& options, curl_slist* headers);

// "Content-Type: application/json" and an empty "Expect:" (curl would otherwise wait up to a
// second for "100 Continue" before sending a large transaction).
CurlList json_headers();

}  // namespace ipfence::store::etcd

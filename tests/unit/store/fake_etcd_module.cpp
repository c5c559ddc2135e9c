// Stand-ins for the etcd module loader's refusals (etcd_module_test.cpp): built twice, as a
// library that exports the entry points with another build's ABI string
// (FAKE_ETCD_MODULE_OTHER_ABI), and as one that exports neither.
#include <memory>
#include <string>

#include "ipam/result.h"
#include "ipam/store/store.h"

#ifdef FAKE_ETCD_MODULE_OTHER_ABI
extern "C" __attribute__((visibility("default"))) const char* ipfence_etcd_module_abi() {
  return "0.0.0-another-build";
}

extern "C" __attribute__((visibility("default"))) void ipfence_etcd_open_store(
    const std::string*, std::unique_ptr<ipfence::store::Store>*, ipfence::Error* error) {
  *error = ipfence::Error{ipfence::ErrorCode::internal, "the fake module must not be called"};
}
#else
extern "C" __attribute__((visibility("default"))) int not_an_ipfence_module() {
  return 0;
}
#endif

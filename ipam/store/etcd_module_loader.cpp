#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <system_error>

#include "ipam/store/etcd_module.h"

namespace ipfence::store::etcd_module {

const char* abi() {
  return IPFENCE_STORE_ABI;
}

namespace {

std::string program_directory() {
  std::error_code error;
  const auto program = std::filesystem::read_symlink("/proc/self/exe", error);
  return error ? std::string() : program.parent_path().string();
}

std::string how_to_fix() {
  return std::string(
             "install the module from the same build as this program at <program "
             "directory>/../lib/ipfence/") +
         kFileName + " (the build puts it in build/lib/ipfence/), or set " + kPathVariable +
         " to its path";
}

Error load_error(const std::string& path, const std::string& what) {
  return make_error(ErrorCode::io, "etcd store module " + path + " " + what + ": " + how_to_fix());
}

}  // namespace

std::vector<std::string> candidate_paths() {
  if (const char* set = std::getenv(kPathVariable); set && *set) return {set};
  const std::string directory = program_directory();
  if (directory.empty()) return {};
  return {(std::filesystem::path(directory).parent_path() / "lib" / "ipfence" / kFileName)
              .lexically_normal()
              .string()};
}

Result<OpenFunction> load(const std::string& path) {
  // Never closed: the stores it makes run its code until the process ends.
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* why = dlerror();
    return load_error(path, std::string("could not be loaded (") + (why ? why : "unknown") + ")");
  }
  auto module_abi = reinterpret_cast<AbiFunction>(dlsym(handle, kAbiSymbol));
  auto open_function = reinterpret_cast<OpenFunction>(dlsym(handle, kOpenSymbol));
  if (!module_abi || !open_function) {
    dlclose(handle);
    return load_error(path, std::string("is not an ipfence etcd module (it has no ") +
                                (module_abi ? kOpenSymbol : kAbiSymbol) + ")");
  }
  const char* theirs = module_abi();
  if (std::strcmp(theirs, abi()) != 0) {
    const std::string what = "was built from other sources (ABI " + std::string(theirs) +
                             ", this program " + abi() + ")";
    dlclose(handle);
    return load_error(path, what);
  }
  return open_function;
}

Result<std::unique_ptr<Store>> open(const std::string& url) {
  static std::mutex mutex;
  static OpenFunction loaded = nullptr;
  OpenFunction open_function = nullptr;
  {
    std::lock_guard lock(mutex);
    if (!loaded) {
      const auto paths = candidate_paths();
      if (paths.empty())
        return make_error(ErrorCode::io, std::string("cannot find the etcd store module: this "
                                                     "program's path is unknown; set ") +
                                             kPathVariable + " to the path of " + kFileName);
      IPF_ASSIGN_OR_RETURN(loaded, load(paths.front()));
    }
    open_function = loaded;
  }
  std::unique_ptr<Store> store;
  Error error{ErrorCode::internal, "the etcd store module returned neither a store nor an error"};
  open_function(&url, &store, &error);
  if (!store) return error;
  return store;
}

}  // namespace ipfence::store::etcd_module

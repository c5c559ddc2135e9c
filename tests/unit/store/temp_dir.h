// A fresh directory under /tmp for one test, removed with everything in it afterwards.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <stdexcept>
#include <string>

namespace ipfence::store::testing {

class TempDir {
 public:
  TempDir() {
    std::string pattern = "/tmp/ipfence-store-test-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }

  const std::string& path() const { return path_; }
  // The store directory inside it; left for FileStore to create, so creation is tested too.
  std::string store_dir() const { return path_ + "/store"; }

 private:
  std::string path_;
};

}  // namespace ipfence::store::testing

// What every command needs besides its flags: the opened store, and kubectl's way of
// reporting errors ("error: ...") and warnings ("Warning: ...") on stderr.
#pragma once

#include <memory>
#include <string>

#include "ctl/commands.h"
#include "ipam/objects.h"
#include "ipam/result.h"
#include "ipam/store/store.h"

namespace ipfence::ctl {

class Session {
 public:
  static Result<Session> open(const GlobalOptions& global);

  store::Store& store() { return *store_; }
  // A fresh service per use: it holds no state besides the store reference.
  ipam::ObjectService objects() { return ipam::ObjectService(*store_); }

 private:
  explicit Session(std::unique_ptr<store::Store> store) : store_(std::move(store)) {}
  std::unique_ptr<store::Store> store_;
};

// Writes "error: <message>" and returns the exit code 1.
int fail(Io& io, const std::string& message);
int fail(Io& io, const Error& error);
// Writes "Warning: <message>"; warnings never change the exit code.
void warn(Io& io, const std::string& message);

}  // namespace ipfence::ctl

#include "ctl/session.h"

#include <ostream>

namespace ipfence::ctl {

Result<Session> Session::open(const GlobalOptions& global) {
  Result<std::unique_ptr<store::Store>> store = store::open_store(global.store_url);
  if (!store.ok()) return store.error();
  return Session(std::move(store).value());
}

int fail(Io& io, const std::string& message) {
  io.err << "error: " << message << "\n";
  return 1;
}

int fail(Io& io, const Error& error) {
  return fail(io, error.message);
}

void warn(Io& io, const std::string& message) {
  io.err << "Warning: " << message << "\n";
}

}  // namespace ipfence::ctl

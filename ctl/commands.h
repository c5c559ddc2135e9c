// The ipfencectl commands, one function each, called by main.cpp once CLI11 has parsed the
// flags. Each returns the process exit code (0 ok, 1 error) and writes only to `io`, so tests
// can run them in-process as well as through the binary.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace ipfence::ctl {

inline constexpr const char* kDefaultStoreUrl = "file:///var/lib/ipfence";
inline constexpr const char* kDefaultNamespace = "default";

struct Io {
  std::istream& in;
  std::ostream& out;
  std::ostream& err;
};

struct GlobalOptions {
  std::string store_url = kDefaultStoreUrl;  // --store, or $IPFENCE_STORE
  std::string namespace_ = kDefaultNamespace;
  bool namespace_given = false;  // -n was on the command line (apply checks objects against it)
};

struct ApplyOptions {
  std::vector<std::string> files;  // "-" = stdin
};

struct GetOptions {
  std::string resource;
  std::string name;    // empty = all
  std::string output;  // "", wide, json, yaml, name
  bool all_namespaces = false;
};

struct DeleteOptions {
  std::string resource;
  std::vector<std::string> names;
  bool ignore_not_found = false;
};

struct PatchOptions {
  std::string resource;
  std::string name;
  std::string type = "strategic";  // kubectl's default, which CRDs do not support
  std::string patch;
};

struct RenderCommandOptions {
  std::string what;  // nad | conflist
  std::string name;
  std::string agent_socket;
};

int run_apply(const GlobalOptions& global, const ApplyOptions& options, Io& io);
int run_get(const GlobalOptions& global, const GetOptions& options, Io& io);
int run_delete(const GlobalOptions& global, const DeleteOptions& options, Io& io);
int run_patch(const GlobalOptions& global, const PatchOptions& options, Io& io);
int run_render(const GlobalOptions& global, const RenderCommandOptions& options, Io& io);
int run_version(Io& io);

}  // namespace ipfence::ctl

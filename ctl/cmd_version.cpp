#include <ostream>

#include "ctl/commands.h"

#ifndef IPFENCE_VERSION
#define IPFENCE_VERSION "unknown"
#endif
#ifndef IPFENCE_GIT
#define IPFENCE_GIT "unknown"
#endif

namespace ipfence::ctl {

int run_version(Io& io) {
  io.out << "ipfencectl " << IPFENCE_VERSION << " (" << IPFENCE_GIT << ")\n";
  return 0;
}

}  // namespace ipfence::ctl

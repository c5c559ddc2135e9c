// ipfence: the CNI IPAM plugin. Thin on purpose: skel reads the call, the verbs ask the
// agent, and this file only says which verb runs which function.
#include <csignal>

#include "cni/skel.h"
#include "cni/verbs.h"

int main() {
  // A runtime that stops reading must yield a failed write (so ADD rolls back), not a death.
  std::signal(SIGPIPE, SIG_IGN);
  using namespace ipfence::cni;
  return plugin_main(process_io(), [](const Invocation& call) -> CniStatus {
    switch (call.env.verb) {
      case Verb::add:
        return cmd_add(call);
      case Verb::del:
        return cmd_del(call);
      case Verb::check:
        return cmd_check(call);
      case Verb::gc:
        return cmd_gc(call);
      case Verb::status:
        return cmd_status(call);
      case Verb::version:
        break;  // answered by plugin_main before any netconf is read
    }
    return cni_error(kInternal,
                     "no handler for CNI_COMMAND " + std::string(verb_name(call.env.verb)));
  });
}

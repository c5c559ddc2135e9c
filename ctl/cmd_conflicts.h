// `ipfencectl get conflicts` and `ipfencectl quarantine release IP`: the conflict watch's
// records in the store (ipam/conflict_model.h), written by every node's agent.
#pragma once

#include <string>
#include <vector>

#include "ctl/commands.h"
#include "ipam/conflict_model.h"
#include "ipam/store/store.h"

namespace ipfence::ctl {

struct ConflictsOptions {
  std::string ip;      // only this address ("" = all)
  std::string output;  // "", wide, json, yaml, name
};

int run_get_conflicts(const GlobalOptions& global, const ConflictsOptions& options, Io& io);
int run_quarantine_release(const GlobalOptions& global, const std::string& ip, Io& io);

// IP MAC KIND POOL HOLDER NODE FIRST-SEEN LAST-SEEN COUNT (ages as kubectl prints them);
// quarantined addresses say so in KIND ("squatter (quarantined)").
std::string conflicts_table(const std::vector<ipam::ConflictRecord>& records,
                            const std::vector<std::string>& quarantined_ips,
                            std::chrono::system_clock::time_point now);

}  // namespace ipfence::ctl

#include "agent/datapath/tc.h"

#include <bpf/libbpf.h>

#include <cerrno>
#include <string>

#include "agent/datapath/libbpf_log.h"
#include "agent/datapath/os_error.h"

namespace ipfence::datapath {
namespace {

bpf_tc_hook clsact_hook(int ifindex, TcDirection direction) {
  bpf_tc_hook hook{};
  hook.sz = sizeof(hook);
  hook.ifindex = ifindex;
  hook.attach_point = direction == TcDirection::egress ? BPF_TC_EGRESS : BPF_TC_INGRESS;
  return hook;
}

bpf_tc_opts filter_opts(const TcFilterId& id) {
  bpf_tc_opts opts{};
  opts.sz = sizeof(opts);
  opts.handle = id.handle;
  opts.priority = id.priority;
  return opts;
}

std::string where(const TcFilterId& id, TcDirection direction) {
  return std::string(" (") + (direction == TcDirection::egress ? "egress" : "ingress") +
         ", ifindex " + std::to_string(id.ifindex) + ")";
}

}  // namespace

Result<std::uint32_t> tc_query(const TcFilterId& id, TcDirection direction) {
  LibbpfCapture log;  // "no such filter" is an answer here, not a warning
  bpf_tc_hook hook = clsact_hook(id.ifindex, direction);
  bpf_tc_opts opts = filter_opts(id);
  const int err = bpf_tc_query(&hook, &opts);
  // ENOENT: no filter at that slot; EINVAL: no clsact qdisc ("Parent Qdisc doesn't exist").
  if (err == -ENOENT || err == -EINVAL) return std::uint32_t{0};
  if (err != 0) return with_log(os_error("bpf_tc_query" + where(id, direction), err), log);
  return opts.prog_id;
}

Result<TcAttachOutcome> tc_attach(const TcFilterId& id, TcDirection direction, int prog_fd) {
  LibbpfCapture log;  // an existing clsact qdisc is expected; real failures carry the text
  TcAttachOutcome out;
  bpf_tc_hook hook = clsact_hook(id.ifindex, direction);
  int err = bpf_tc_hook_create(&hook);
  if (err != 0 && err != -EEXIST)
    return with_log(os_error("bpf_tc_hook_create" + where(id, direction), err), log);
  out.created_qdisc = err == 0;

  IPF_ASSIGN_OR_RETURN(out.replaced_prog_id, tc_query(id, direction));
  bpf_tc_opts opts = filter_opts(id);
  opts.prog_fd = prog_fd;
  opts.flags = BPF_TC_F_REPLACE;  // create, or replace in place: never a second filter
  err = bpf_tc_attach(&hook, &opts);
  if (err != 0) return with_log(os_error("bpf_tc_attach" + where(id, direction), err), log);
  out.prog_id = opts.prog_id;
  return out;
}

Result<bool> tc_detach(const TcFilterId& id, TcDirection direction) {
  LibbpfCapture log;
  bpf_tc_hook hook = clsact_hook(id.ifindex, direction);
  bpf_tc_opts opts = filter_opts(id);
  const int err = bpf_tc_detach(&hook, &opts);
  if (err == -ENOENT || err == -EINVAL) return false;  // no filter, or no clsact qdisc
  if (err != 0) return with_log(os_error("bpf_tc_detach" + where(id, direction), err), log);
  return true;
}

}  // namespace ipfence::datapath

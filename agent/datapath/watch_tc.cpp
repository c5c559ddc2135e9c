#include "agent/datapath/watch_tc.h"

#include <bpf/libbpf.h>

#include <cerrno>
#include <string>

#include "agent/datapath/libbpf_log.h"
#include "agent/datapath/os_error.h"

namespace ipfence::datapath {
namespace {

bpf_tc_hook ingress_hook(int ifindex) {
  bpf_tc_hook hook{};
  hook.sz = sizeof(hook);
  hook.ifindex = ifindex;
  hook.attach_point = BPF_TC_INGRESS;
  return hook;
}

bpf_tc_opts filter_opts(const TcFilterId& id) {
  bpf_tc_opts opts{};
  opts.sz = sizeof(opts);
  opts.handle = id.handle;
  opts.priority = id.priority;
  return opts;
}

std::string where(const TcFilterId& id) {
  return " (ingress, ifindex " + std::to_string(id.ifindex) + ")";
}

}  // namespace

Result<std::uint32_t> tc_query_ingress(const TcFilterId& id) {
  LibbpfCapture log;  // "no such filter" is an answer here, not a warning
  bpf_tc_hook hook = ingress_hook(id.ifindex);
  bpf_tc_opts opts = filter_opts(id);
  const int err = bpf_tc_query(&hook, &opts);
  // ENOENT: no filter at that slot; EINVAL: no clsact qdisc.
  if (err == -ENOENT || err == -EINVAL) return std::uint32_t{0};
  if (err != 0) return with_log(os_error("bpf_tc_query" + where(id), err), log);
  return opts.prog_id;
}

Result<TcAttachOutcome> tc_attach_ingress(const TcFilterId& id, int prog_fd) {
  LibbpfCapture log;  // an existing clsact qdisc (the guard's) is expected
  TcAttachOutcome out;
  bpf_tc_hook hook = ingress_hook(id.ifindex);
  int err = bpf_tc_hook_create(&hook);
  if (err != 0 && err != -EEXIST)
    return with_log(os_error("bpf_tc_hook_create" + where(id), err), log);
  out.created_qdisc = err == 0;

  IPF_ASSIGN_OR_RETURN(out.replaced_prog_id, tc_query_ingress(id));
  bpf_tc_opts opts = filter_opts(id);
  opts.prog_fd = prog_fd;
  opts.flags = BPF_TC_F_REPLACE;  // create, or replace in place: never a second filter
  err = bpf_tc_attach(&hook, &opts);
  if (err != 0) return with_log(os_error("bpf_tc_attach" + where(id), err), log);
  out.prog_id = opts.prog_id;
  return out;
}

Result<bool> tc_detach_ingress(const TcFilterId& id) {
  LibbpfCapture log;
  bpf_tc_hook hook = ingress_hook(id.ifindex);
  bpf_tc_opts opts = filter_opts(id);
  const int err = bpf_tc_detach(&hook, &opts);
  if (err == -ENOENT || err == -EINVAL) return false;  // no filter, or no clsact qdisc
  if (err != 0) return with_log(os_error("bpf_tc_detach" + where(id), err), log);
  return true;
}

}  // namespace ipfence::datapath

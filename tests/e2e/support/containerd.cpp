#include "tests/e2e/support/containerd.h"

#include <elf.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>

namespace ipfence::e2e {
namespace {

namespace fs = std::filesystem;

// Runs as `sh -c <script> containerd-ns <dir> <conf dir> <bin dir>` in containerd's new
// mount namespace (a slave of the machine's: nothing mounted here propagates back).
constexpr const char* kNamespaceScript = R"sh(set -e
dir=$1 conf=$2 bin=$3
for d in run etc opt var/lib; do
  if [ ! -d "/$d" ]; then echo "containerd-ns: /$d is not a directory" >&2; exit 1; fi
  layer="$dir/layers/$(echo "$d" | tr / -)"
  mkdir -p "$layer/upper" "$layer/work"
  mount -n -t overlay overlay -o "lowerdir=/$d,upperdir=$layer/upper,workdir=$layer/work" "/$d"
done
mkdir -p /etc/cni/net.d /opt/cni/bin
mount -n --bind "$conf" /etc/cni/net.d
mount -n --bind "$bin" /opt/cni/bin
exec containerd --config "$dir/config.toml"
)sh";

constexpr const char* kApplets[] = {"sh", "ip", "ping", "sleep", "cat", "ls", "ifconfig", "route"};

std::string find_in_path(const std::string& name) {
  const char* path = getenv("PATH");
  std::istringstream dirs(path ? path : "/usr/sbin:/usr/bin:/sbin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

// True for an ELF executable without a program interpreter (it runs in an empty rootfs).
bool is_static_elf(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  Elf64_Ehdr header{};
  if (!in.read(reinterpret_cast<char*>(&header), sizeof header)) return false;
  if (std::memcmp(header.e_ident, ELFMAG, SELFMAG) != 0 || header.e_ident[EI_CLASS] != ELFCLASS64)
    return false;
  for (int i = 0; i < header.e_phnum; ++i) {
    Elf64_Phdr program{};
    in.seekg(static_cast<std::streamoff>(header.e_phoff + i * header.e_phentsize));
    if (!in.read(reinterpret_cast<char*>(&program), sizeof program)) return false;
    if (program.p_type == PT_INTERP) return false;
  }
  return true;
}

// The process whose parent is `parent` (containerd is unshare's only child).
pid_t child_of(pid_t parent) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto paren = stat.rfind(')');
    if (paren == std::string::npos) continue;
    std::istringstream fields(stat.substr(paren + 1));
    std::string state;
    pid_t ppid = 0;
    fields >> state >> ppid;
    if (ppid == parent) return std::stoi(name);
  }
  return -1;
}

std::string comm_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/comm");
  std::string comm;
  std::getline(in, comm);
  return comm;
}

// Container cgroups are named after the container (the spec has no cgroupsPath). A runc that
// was killed with its container leaves them behind; remove the empty ones by name.
void remove_cgroups(const std::function<bool(const std::string&)>& match) {
  std::vector<fs::path> found;
  std::error_code ec;
  fs::recursive_directory_iterator it("/sys/fs/cgroup",
                                      fs::directory_options::skip_permission_denied, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code kind;
    if (it->is_symlink(kind) || !it->is_directory(kind)) continue;
    if (match(it->path().filename())) {
      found.push_back(it->path());
      it.disable_recursion_pending();
    } else if (it.depth() >= 3) {
      it.disable_recursion_pending();
    }
  }
  for (const auto& path : found) rmdir(path.c_str());
}

// True for "<prefix><pid>-..." when process <pid> is gone.
bool of_dead_process(const std::string& name, const std::string& prefix) {
  if (name.rfind(prefix, 0) != 0) return false;
  auto dash = name.find('-', prefix.size());
  if (dash == std::string::npos || dash == prefix.size()) return false;
  std::string pid = name.substr(prefix.size(), dash - prefix.size());
  if (pid.find_first_not_of("0123456789") != std::string::npos) return false;
  return access(("/proc/" + pid).c_str(), F_OK) != 0;
}

// A test process killed outright takes containerd, its shims and containers with it (see
// the header), but leaves its temporary directory and, if runc was killed mid-way, container
// cgroups ("ipf<pid>-..." from unique_name).
void remove_leftovers_of_dead_runs() {
  remove_cgroups([](const std::string& name) { return of_dead_process(name, "ipf"); });
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/tmp", ec)) {
    if (!of_dead_process(entry.path().filename(), "ipfence-ctrd-")) continue;
    std::error_code ignored;
    fs::remove_all(entry.path(), ignored);
  }
}

}  // namespace

std::string Containerd::missing_tools() {
  std::string missing;
  for (const char* tool :
       {"containerd", "ctr", "containerd-shim-runc-v2", "runc", "nsenter", "unshare", "setpriv"}) {
    if (find_in_path(tool).empty()) missing += std::string(missing.empty() ? "" : ", ") + tool;
  }
  if (!is_static_elf("/bin/busybox"))
    missing += std::string(missing.empty() ? "" : ", ") + "a static /bin/busybox (busybox-static)";
  return missing;
}

Containerd::Containerd(ContainerdOptions options) : options_(std::move(options)) {
  remove_leftovers_of_dead_runs();
  std::string dir_template = "/tmp/ipfence-ctrd-" + std::to_string(getpid()) + "-XXXXXX";
  if (!mkdtemp(dir_template.data())) throw std::runtime_error("mkdtemp failed");
  dir_ = dir_template;
  try {
    make_rootfs();
    make_plugin_dir();
    write_config();
    fs::create_directories(dir_ + "/fifo");
    // setpriv: unshare dies with the test process; --kill-child: containerd dies with unshare.
    // clang-format off
    std::vector<std::string> argv{
        "setpriv", "--pdeathsig", "KILL",
        "nsenter", "--net=/run/netns/" + options_.netns,
        "unshare", "--mount", "--pid", "--fork", "--kill-child", "--mount-proc",
                   "--propagation", "slave",
        "sh", "-c", kNamespaceScript, "containerd-ns", dir_, options_.conf_dir, dir_ + "/cni-bin"};
    // clang-format on
    process_ = ChildProcess(argv, dir_ + "/containerd.log");
    bool started = wait_until(
        [&] {
          if (!process_.running()) return true;
          containerd_pid_ = child_of(process_.pid());
          return containerd_pid_ > 0 && comm_of(containerd_pid_) == "containerd";
        },
        std::chrono::seconds(10));
    if (!started || !process_.running()) throw std::runtime_error("containerd did not start");
    bool up = wait_until(
        [&] {
          return !process_.running() ||
                 (fs::exists(socket()) && ctr({"version"}, std::chrono::seconds(5)).exit_code == 0);
        },
        std::chrono::seconds(10));
    if (!up || !process_.running()) throw std::runtime_error("containerd did not come up");
  } catch (const std::exception& e) {
    std::string log = process_.log();
    stop();
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
    throw std::runtime_error(std::string(e.what()) + ":\n" + log);
  }
}

Containerd::~Containerd() {
  remove_containers();
  stop();
  for (const auto& id : ids_) remove_cgroups([&](const std::string& name) { return name == id; });
  std::error_code ignored;
  fs::remove_all(dir_, ignored);
}

void Containerd::make_rootfs() const {
  const fs::path root = rootfs();
  for (const char* sub : {"bin", "dev", "etc", "proc", "run", "sys", "tmp"})
    fs::create_directories(root / sub);
  fs::copy_file("/bin/busybox", root / "bin/busybox");
  fs::permissions(root / "bin/busybox", fs::perms(0755));
  for (const char* applet : kApplets) fs::create_symlink("busybox", root / "bin" / applet);
}

void Containerd::make_plugin_dir() const {
  const fs::path bin = dir_ + "/cni-bin";
  fs::create_directories(bin);
  for (const auto& dir : options_.plugin_dirs) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      std::error_code kind;
      if (!entry.is_regular_file(kind) || access(entry.path().c_str(), X_OK) != 0) continue;
      if (fs::exists(fs::symlink_status(bin / entry.path().filename()))) continue;
      fs::create_symlink(fs::absolute(entry.path()), bin / entry.path().filename());
    }
  }
}

void Containerd::write_config() const {
  std::ofstream out(dir_ + "/config.toml");
  out << "version = 2\n"
      << "root = \"" << dir_ << "/root\"\n"
      << "state = \"" << dir_
      << "/state\"\n"
      // ctr run --rootfs needs no CRI and no snapshotter; skip the ones that probe the host.
      << "disabled_plugins = [\"io.containerd.grpc.v1.cri\", "
         "\"io.containerd.snapshotter.v1.aufs\", \"io.containerd.snapshotter.v1.btrfs\", "
         "\"io.containerd.snapshotter.v1.zfs\", \"io.containerd.snapshotter.v1.devmapper\"]\n"
      << "[grpc]\n  address = \"" << socket() << "\"\n"
      << "[ttrpc]\n  address = \"" << socket() << ".ttrpc\"\n"
      << "[debug]\n  address = \"\"\n"
      << "[plugins.\"io.containerd.internal.v1.opt\"]\n  path = \"" << dir_ << "/opt\"\n";
  if (!out) throw std::runtime_error("cannot write " + dir_ + "/config.toml");
}

std::vector<std::string> Containerd::ctr_argv(const std::vector<std::string>& args) const {
  std::vector<std::string> argv{"nsenter",     "-t",        std::to_string(containerd_pid_),
                                "-m",          "-n",        "-p",
                                "ctr",         "--address", socket(),
                                "--namespace", kNamespace};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

ProcessResult Containerd::ctr(const std::vector<std::string>& args,
                              std::chrono::milliseconds timeout) const {
  return run_process(ctr_argv(args), {}, "", timeout);
}

std::vector<std::string> Containerd::run_argv(const std::string& id,
                                              const std::vector<std::string>& command) const {
  // No cgroupsPath (--cgroup ""): runc names the cgroup after the container, so a leftover
  // can be found. No PATH in a --rootfs spec: busybox's applets are in /bin.
  std::vector<std::string> args{"run",          "--cni",    "--rm",   "--fifo-dir",
                                dir_ + "/fifo", "--cgroup", "",       "--env",
                                "PATH=/bin",    "--rootfs", rootfs(), id};
  args.insert(args.end(), command.begin(), command.end());
  return ctr_argv(args);
}

ChildProcess Containerd::run_foreground(const std::string& id,
                                        const std::vector<std::string>& command,
                                        const std::string& log_path) {
  ids_.insert(id);
  return ChildProcess(run_argv(id, command), log_path);
}

ProcessResult Containerd::run(const std::string& id, const std::vector<std::string>& command,
                              std::chrono::milliseconds timeout) {
  ids_.insert(id);
  return run_process(run_argv(id, command), {}, "", timeout);
}

ProcessResult Containerd::exec(const std::string& id,
                               const std::vector<std::string>& command) const {
  static std::atomic<int> exec_ids{0};
  std::vector<std::string> args{"task",
                                "exec",
                                "--fifo-dir",
                                dir_ + "/fifo",
                                "--exec-id",
                                "exec" + std::to_string(++exec_ids),
                                id};
  args.insert(args.end(), command.begin(), command.end());
  return ctr(args);
}

std::string Containerd::task_status(const std::string& id) const {
  std::istringstream lines(ctr({"task", "ls"}).out);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    std::string task, pid, status;
    fields >> task >> pid >> status;
    if (task == id) return status;
  }
  return "";
}

std::vector<std::string> Containerd::containers() const {
  std::vector<std::string> ids;
  std::istringstream lines(ctr({"container", "ls", "-q"}).out);
  for (std::string line; std::getline(lines, line);)
    if (!line.empty()) ids.push_back(line);
  return ids;
}

void Containerd::remove_containers() {
  if (containerd_pid_ <= 0 || !process_.running()) return;
  for (const auto& id : containers()) {
    // ctr 1.6 runs no CNI DEL here; a foreground `ctr run` still waiting does its own.
    ctr({"task", "delete", "--force", id}, std::chrono::seconds(10));
    ctr({"container", "delete", id}, std::chrono::seconds(10));
  }
}

void Containerd::stop() {
  if (containerd_pid_ > 0 && process_.running()) {
    kill(containerd_pid_, SIGTERM);  // unshare blocks SIGTERM; containerd is PID 1 of its own
    wait_until([&] { return !process_.running(); }, std::chrono::seconds(5));
  }
  process_.stop(SIGKILL);  // --kill-child: containerd and its PID namespace go with it
  containerd_pid_ = -1;
}

}  // namespace ipfence::e2e

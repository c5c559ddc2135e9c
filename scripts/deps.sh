#!/usr/bin/env bash
# Installs every Debian package ipfence needs to build, test, run the demo and benchmarks.
# Idempotent and non-interactive: does nothing (not even `apt-get update`) when all are there.
set -euo pipefail

packages=(
  # build
  build-essential cmake ninja-build pkg-config clang-14 llvm-14 libclang-rt-14-dev clang-format
  # libraries
  libbpf-dev bpftool libelf-dev zlib1g-dev nlohmann-json3-dev libspdlog-dev libfmt-dev
  libyaml-cpp-dev prometheus-cpp-dev libcli11-dev libcurl4-openssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # Boost.Beast (header-only) for the agent socket's HTTP, which libmicrohttpd served with GnuTLS
  libboost-dev
  # abseil for its B-tree: IP sets with a million intervals stay cache friendly
  libabsl-dev
  # runtime and test parts: real CNI plugins, namespaces, traffic tools, servers
  containernetworking-plugins iproute2 iputils-ping iputils-arping curl jq procps iperf3
  # drops etcd's replies inside a test namespace (an ADD whose answer is lost)
  iptables
  # a real container runtime for the containerd e2e test (ctr run --cni --rootfs)
  containerd runc busybox-static
  # the etcd store backend: a real etcd for its tests and benchmark (etcdctl for debugging)
  etcd-server etcd-client
  # a real Prometheus for the metrics tests (promtool checks the alert rules in deploy/)
  prometheus
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "deps: missing packages: ${missing[*]}; run as root (or install them) and retry" >&2
  exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"

#!/usr/bin/env bash
# Installs what isula needs on Debian bookworm (as root) and prepares the host:
# OCI runtimes, busybox-static for test images, a registry, CNI plugins, cross-check tools,
# protoc (the k8s-cri crate compiles the CRI protos at build time), openssl (test certificates),
# debootstrap and qemu for the cgroup v2 + systemd guest of scripts/guest-test.sh.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
pkgs=(busybox-static runc crun docker-registry containernetworking-plugins skopeo umoci
      iptables iproute2 xz-utils zstd pkg-config gcc g++ valgrind protobuf-compiler openssl
      debootstrap qemu-system-x86)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# crun refuses hybrid cgroup layouts unless a v1 hugetlb hierarchy is mounted.
if [ -d /sys/fs/cgroup/unified ] && ! grep -q ' /sys/fs/cgroup/hugetlb ' /proc/self/mountinfo; then
  mkdir -p /sys/fs/cgroup/hugetlb 2>/dev/null || mount -o remount,rw /sys/fs/cgroup 2>/dev/null || true
  mkdir -p /sys/fs/cgroup/hugetlb
  mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb || echo "warning: could not mount the hugetlb cgroup" >&2
fi
modprobe overlay 2>/dev/null || true
command -v cargo >/dev/null || { echo "cargo is required (rustup toolchain)" >&2; exit 1; }

#!/usr/bin/env bash
# Runs the guest suite (tests/guest/suite.sh) in a Debian bookworm KVM guest booted with the
# unified cgroup v2 hierarchy and systemd: the cgroup v2 code and the systemd cgroup driver,
# which this cgroup v1 host without systemd cannot exercise.
#
# The guest image is built once with debootstrap (tests/guest/build-image.sh) and cached in
# /var/cache/isula-guest/<hash of the build recipe>. Each run boots it with a throw-away
# overlay (qemu snapshot=on), shares this checkout's binaries and the suite over 9p, and
# reads the results back from the share. The guest has no network device at all.
#
# Binaries: $GUEST_BIN_DIR (default target/debug, what scripts/test.sh builds) must hold
# isulad, isula, isulad-shim, isula-pause and examples/guest_pod (a pod through isula_core).
# GUEST_TIMEOUT (seconds, default 900) bounds the whole boot + suite; GUEST_BOOT_TIMEOUT
# (default 300) one boot: a guest that never reaches the suite is booted a second time; each
# test in the guest gets GUEST_TEST_LIMIT seconds (default 300; a hung test fails with its
# log). GUEST_ACCEL=kvm|tcg forces the accelerator; by default KVM is used when the CPU
# exposes vmx/svm, else (a VM without nested virtualization, whose /dev/kvm hangs qemu) the
# guest runs under TCG emulation, slower but the same guest. GUEST_FILTER runs only the
# suite's sections whose name contains it. The suite's lines also go to the guest console.
# Prints the suite's output and a closing line "N passed, M failed"; exits non-zero on any
# failure. The per-test logs, the daemon logs and the guest console are copied to
# $GUEST_RESULTS (default target/guest-results). Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
bin_dir=${GUEST_BIN_DIR:-$repo/target/debug}
timeout=${GUEST_TIMEOUT:-900}
cache_root=/var/cache/isula-guest

fail() { echo "guest-test: $*" >&2; echo "0 passed, 1 failed"; exit 1; }
[ "$(id -u)" = 0 ] || fail "must run as root"
for t in debootstrap qemu-system-x86_64 mke2fs; do
  command -v "$t" >/dev/null || fail "$t is missing (scripts/setup.sh installs it)"
done
for b in isulad isula isulad-shim isula-pause examples/guest_pod; do
  [ -x "$bin_dir/$b" ] || fail "$bin_dir/$b is missing (cargo build -p isulad -p isula -p isulad-shim -p isula-pause; cargo build -p isula-tests --example guest_pod)"
done

# The cached guest, keyed by the build recipe; built under a lock so parallel runs share it.
key=$(sha256sum tests/guest/build-image.sh | cut -c1-16)
image=$cache_root/bookworm-$key
mkdir -p "$cache_root"
exec 9>"$cache_root/.lock"
flock 9
if [ ! -f "$image/rootfs.img" ]; then
  t0=$(date +%s)
  bash tests/guest/build-image.sh "$image" || fail "building the guest image failed"
  echo "guest-test: built the guest image in $(( $(date +%s) - t0 ))s ($image)" >&2
  # Older images of other recipes are dropped: only the current one is kept.
  for old in "$cache_root"/bookworm-*; do
    [ "$old" = "$image" ] || rm -rf "$old"
  done
fi
flock -u 9

share=$(mktemp -d /tmp/isula-guest.XXXXXX)
qemu_pid=
# Stop the guest's qemu (SIGTERM, then SIGKILL after a second) and reap it.
stop_guest() {
  if kill -0 "$qemu_pid" 2>/dev/null; then
    kill "$qemu_pid" 2>/dev/null || true
    sleep 1
    kill -9 "$qemu_pid" 2>/dev/null || true
  fi
  wait "$qemu_pid" 2>/dev/null || true
  qemu_pid=
}
cleanup() {
  [ -z "$qemu_pid" ] || stop_guest
  rm -rf "$share"
}
trap cleanup EXIT
mkdir -p "$share/bin" "$share/results"
cp "$bin_dir"/{isulad,isula,isulad-shim,isula-pause,examples/guest_pod} "$share/bin/"
cp tests/guest/run-in-guest.sh tests/guest/suite.sh "$share/"
printf '%s\n' "${GUEST_FILTER:-}" >"$share/filter"
printf '%s\n' "${GUEST_TEST_LIMIT:-300}" >"$share/test-limit"

accel=${GUEST_ACCEL:-}
if [ -z "$accel" ]; then
  if [ -c /dev/kvm ] && grep -qwE 'vmx|svm' /proc/cpuinfo; then
    accel=kvm
  else
    accel=tcg
    echo "guest-test: /dev/kvm is present but the CPU exposes no vmx/svm (no nested virtualization): using TCG emulation" >&2
  fi
fi
case $accel in
  kvm) [ -c /dev/kvm ] || fail "/dev/kvm is missing"; accel_args=(-enable-kvm -cpu host) ;;
  tcg) accel_args=(-accel tcg,thread=multi -cpu max) ;;
  *) fail "GUEST_ACCEL must be kvm or tcg, not $accel" ;;
esac

boot_timeout=${GUEST_BOOT_TIMEOUT:-300}
start_guest() {
  qemu-system-x86_64 "${accel_args[@]}" -smp 2 -m 2048 \
    -display none -vga none -monitor none -nic none -no-reboot \
    -serial "file:$share/console.log" \
    -kernel "$image/vmlinuz" -initrd "$image/initrd.img" \
    -append "root=/dev/vda rw console=ttyS0 panic=-1 quiet loglevel=3 systemd.show_status=false" \
    -drive "file=$image/rootfs.img,format=raw,if=virtio,snapshot=on" \
    -virtfs "local,path=$share,mount_tag=isula,security_model=none,id=isula" &
  qemu_pid=$!
}
t0=$(date +%s)
deadline=$(( t0 + timeout ))
# A guest that has not reached the suite (run-in-guest.sh writes boot-seconds first) within
# $GUEST_BOOT_TIMEOUT seconds (it takes 20-30 s under TCG) is booted once more.
for attempt in 1 2; do
  boot_deadline=$(( $(date +%s) + boot_timeout ))
  start_guest
  outcome=finished
  while kill -0 "$qemu_pid" 2>/dev/null; do
    now=$(date +%s)
    if [ ! -f "$share/results/boot-seconds" ] && [ "$now" -ge "$boot_deadline" ]; then outcome=no-boot; break; fi
    if [ "$now" -ge "$deadline" ]; then outcome=timeout; break; fi
    sleep 1
  done
  case $outcome in
    finished)
      wait "$qemu_pid" || true
      qemu_pid=
      break ;;
    no-boot)
      echo "guest-test: boot $attempt did not reach the suite within ${boot_timeout}s; console:" >&2
      tail -n 40 "$share/console.log" >&2 || true
      stop_guest
      [ "$attempt" = 1 ] || fail "the guest never reached the suite" ;;
    timeout)
      echo "guest-test: the guest did not finish within ${timeout}s; console:" >&2
      tail -n 40 "$share/console.log" >&2 || true
      # The test that was running: its log so far, and the daemon's.
      last=$(ls -t "$share/results"/*.log 2>/dev/null | grep -v '/suite.log$' | head -n 2 || true)
      for f in $last; do echo "guest-test: ${f##*/}:" >&2; tail -n 20 "$f" >&2; done
      cleanup
      trap - EXIT
      echo "0 passed, 1 failed"
      exit 1 ;;
  esac
done

# The per-test logs and daemon logs stay for a look after the run.
keep=${GUEST_RESULTS:-$repo/target/guest-results}
rm -rf "$keep" && mkdir -p "$keep" && cp -r "$share/results/." "$share/console.log" "$keep/" 2>/dev/null || true
[ -f "$share/results/boot-seconds" ] && echo "guest-test: guest booted in $(cat "$share/results/boot-seconds")s (to the suite's start)" >&2
[ -f "$share/results/suite.log" ] && cat "$share/results/suite.log"
echo "guest-test: boot + suite + shutdown took $(( $(date +%s) - t0 ))s" >&2
if [ ! -f "$share/results/summary" ]; then
  echo "guest-test: the suite left no results; console:" >&2
  tail -n 60 "$share/console.log" >&2 || true
  echo "0 passed, 1 failed"
  exit 1
fi
read -r passed failed <"$share/results/summary"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$passed" -gt 0 ]

#!/bin/bash
# The guest suite: isula on cgroup v2 with systemd, with both cgroup drivers and both
# runtimes. Run as root inside the guest by run-in-guest.sh (scripts/guest-test.sh boots it);
# $1 is the results directory: one log per test, the daemon logs, and `summary`
# ("PASSED FAILED"). GUEST_FILTER runs only the tests whose name contains it.
#
# Each test runs in a subshell and fails at its first failed check (`ck`, `eq`, `has`).
set -u
res=$1
mkdir -p "$res"
passed=0
failed=0
work=/var/lib/isula-guest
sock=/run/isula-guest.sock
export ISULAD_HOST=unix://$sock
mkdir -p "$work"

# --- checks -------------------------------------------------------------------------------
ck() { "$@" || { echo "FAILED: $*" >&2; exit 1; }; }
eq() { [ "$1" = "$2" ] || { echo "FAILED: $3: got '$1', want '$2'" >&2; exit 1; }; }
has() { case $1 in *"$2"*) ;; *) echo "FAILED: $3: '$2' not in: $1" >&2; exit 1 ;; esac; }
# Retry a check for up to $1 seconds (state changes that the kernel makes asynchronously).
within() { local n=$1; shift; local i; for ((i = 0; i < n * 5; i++)); do "$@" 2>/dev/null && return 0; sleep 0.2; done; "$@"; }

# Each test gets at most $GUEST_TEST_LIMIT seconds (default 300): a hung test is killed with
# everything it started (its own process group: job control is on) and counts as failed, so
# one hang cannot use up the whole run's time with nothing to show for it.
set -m
test_limit=${GUEST_TEST_LIMIT:-300}
t() {
  local name=$1; shift
  if [ -n "${GUEST_FILTER:-}" ] && [[ $name != *"$GUEST_FILTER"* ]]; then return; fi
  local t0=$SECONDS
  ( set -u; "$@" ) >"$res/$name.log" 2>&1 &
  local pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS - t0 >= test_limit)); then
      echo "FAILED: still running after ${test_limit}s; killed" >>"$res/$name.log"
      kill -KILL -- "-$pid" 2>/dev/null
      break
    fi
    sleep 0.2
  done
  if wait "$pid"; then
    passed=$((passed + 1)); echo "ok   $name ($((SECONDS - t0))s)"
  else
    failed=$((failed + 1)); echo "FAIL $name ($((SECONDS - t0))s)"; sed 's/^/    /' "$res/$name.log" | tail -n 30
  fi
}

# --- daemon ---------------------------------------------------------------------------------
# The daemon's pid is kept in a file: tests restart it from their subshells.
pidfile=/run/isula-guest.pid
start_daemon() { # DRIVER RUNTIME [isulad flags…]; "-" as DRIVER: the flags say it all
  local driver=$1 runtime=$2; shift 2
  local args=(-g "$work/root-$driver" -S "/run/isula-guest-$driver" -H "unix://$sock" -b none
    --default-runtime "$runtime" --pidfile "$pidfile")
  [ "$driver" = alias ] || args+=(--cgroup-driver "$driver")
  isulad "${args[@]}" "$@" >>"$res/isulad-$driver.log" 2>&1 &
  local pid=$!
  local i
  for ((i = 0; i < 300; i++)); do
    kill -0 "$pid" 2>/dev/null || { echo "isulad exited; log:"; tail -n 20 "$res/isulad-$driver.log"; return 1; }
    if isula version >/dev/null 2>&1; then
      # The daemon that answers is this one: its root and runtime.
      local info; info=$(isula info)
      case $info in *"Root Dir: $work/root-$driver"*"Default Runtime: $runtime"* | *"Default Runtime: $runtime"*"Root Dir: $work/root-$driver"*) return 0 ;; esac
      echo "another daemon answers on $sock:"; echo "$info"; return 1
    fi
    sleep 0.2
  done
  echo "isulad did not answer within 60s"; return 1
}
stop_daemon() {
  local pid; pid=$(cat "$pidfile" 2>/dev/null) || return 0
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null
  local i
  for ((i = 0; i < 150; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -9 "$pid" 2>/dev/null
  for ((i = 0; i < 50; i++)); do [ -e "/proc/$pid" ] || break; sleep 0.2; done
  rm -f "$pidfile"
}

# --- helpers --------------------------------------------------------------------------------
IMG=busybox:guest
make_image() {
  local r=$work/rootfs
  rm -rf "$r"; mkdir -p "$r/bin" "$r/tmp" "$r/proc" "$r/sys" "$r/dev" "$r/etc"
  cp /bin/busybox "$r/bin/busybox"
  local a
  for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$r/bin/$a"; done
  tar -C "$r" -cf "$work/busybox.tar" .
}
cid() { isula inspect -f '{{.Id}}' "$1"; }
cpid() { isula inspect -f '{{.State.Pid}}' "$1"; }
# The container's cgroup directory: what the driver should give, checked against the kernel's
# view. crun's systemd manager puts the process in a `container` leaf of the scope.
cgdir() {
  local id; id=$(cid "$1")
  local want
  if [ "$DRIVER" = systemd ]; then
    want=/sys/fs/cgroup/${2:-system.slice}/isula-$id.scope
  else
    want=/sys/fs/cgroup/isulad/$id
  fi
  local got=/sys/fs/cgroup$(sed -n 's/^0:://p' "/proc/$(cpid "$1")/cgroup")
  if [ "$DRIVER/$RT" = systemd/crun ] && [ "$got" = "$want/container" ]; then want=$got; fi
  eq "$got" "$want" "cgroup of $1"
  echo "$want"
}
# No container scope or isula pod slice left in systemd (loaded in any state).
no_units() {
  local left; left=$(systemctl list-units --all --no-legend 'isula-*.scope' '*isulapod*')
  [ -z "$left" ] || { echo "units left: $left" >&2; return 1; }
}
rd() { tr -d '\n' <"$1"; }
rmall() { isula rm -f $(isula ps -aq) >/dev/null 2>&1 || true; }

# --- tests (run with DRIVER and RT set) -------------------------------------------------------
test_info() {
  local out; out=$(isula info)
  has "$out" "Cgroup Version: 2" "isula info"
  has "$out" "Cgroup Driver: $DRIVER" "isula info"
}

test_memory_oom() {
  ck isula run -d --name mem-$RT -m 48m $IMG sleep 300 >/dev/null
  local d; d=$(cgdir mem-$RT) || exit 1
  eq "$(rd "$d/memory.max")" $((48 << 20)) "memory.max"
  ck isula update -m 64m mem-$RT >/dev/null
  eq "$(rd "$d/memory.max")" $((64 << 20)) "memory.max after update"
  ck isula rm -f mem-$RT >/dev/null
  # tail buffers /dev/zero forever: PID 1 of the container grows past memory.max.
  local code=0
  isula run --name oom-$RT -m 32m $IMG tail /dev/zero || code=$?
  eq "$code" 137 "exit code of an OOM-killed run"
  eq "$(isula inspect -f '{{.State.OOMKilled}}' oom-$RT)" true "State.OOMKilled"
  eq "$(isula inspect -f '{{.State.ExitCode}}' oom-$RT)" 137 "State.ExitCode"
  ck isula rm oom-$RT >/dev/null
}

test_cpu() {
  ck isula run -d --name cpu-$RT --cpus 0.5 --cpu-shares 512 --cpuset-cpus 0 $IMG sleep 300 >/dev/null
  local d; d=$(cgdir cpu-$RT) || exit 1
  eq "$(rd "$d/cpu.max")" "50000 100000" "cpu.max for --cpus 0.5"
  # shares 2..262144 map onto weight 1..10000: 512 -> 20.
  eq "$(rd "$d/cpu.weight")" 20 "cpu.weight for --cpu-shares 512"
  eq "$(rd "$d/cpuset.cpus")" 0 "cpuset.cpus"
  ck isula update --cpus 1.5 --cpu-shares 1024 --cpuset-cpus 1 cpu-$RT >/dev/null
  eq "$(rd "$d/cpu.max")" "150000 100000" "cpu.max after update"
  eq "$(rd "$d/cpu.weight")" 39 "cpu.weight after update"
  eq "$(rd "$d/cpuset.cpus")" 1 "cpuset.cpus after update"
  ck isula rm -f cpu-$RT >/dev/null
}

test_pids() {
  ck isula run -d --name pids-$RT --pids-limit 10 $IMG sleep 300 >/dev/null
  local d; d=$(cgdir pids-$RT) || exit 1
  eq "$(rd "$d/pids.max")" 10 "pids.max"
  # 20 background sleeps cannot all start under the limit.
  isula exec pids-$RT sh -c 'for i in $(seq 20); do sleep 60 & done; wait' >/dev/null 2>&1
  local cur; cur=$(rd "$d/pids.current")
  [ "$cur" -le 10 ] || { echo "FAILED: pids.current $cur above the limit"; exit 1; }
  ck isula update --pids-limit 50 pids-$RT >/dev/null
  eq "$(rd "$d/pids.max")" 50 "pids.max after update"
  ck isula rm -f pids-$RT >/dev/null
}

test_stats_top() {
  ck isula run -d --name st-$RT -m 100m $IMG \
    sh -c 'dd if=/dev/zero of=/tmp/f bs=1M count=8 conv=fsync 2>/dev/null; while :; do :; done' >/dev/null
  local d; d=$(cgdir st-$RT) || exit 1
  within 20 grep -q wbytes "$d/io.stat"
  local out; out=$(isula stats --no-stream st-$RT)
  echo "$out"
  has "$out" "100MiB" "stats memory limit"
  local row; row=$(echo "$out" | tail -n 1)
  # CPU % is busy, memory non-zero, block I/O written, one or more pids.
  local cpu; cpu=$(echo "$row" | awk '{print $3}' | tr -d '%')
  awk -v c="$cpu" 'BEGIN { exit !(c > 1) }' || { echo "FAILED: cpu % $cpu"; exit 1; }
  # Columns: id name cpu usage / limit mem% net-in / net-out blk-read / blk-written pids.
  local written; written=$(echo "$row" | awk '{print $13}')
  [ -n "$written" ] && [ "$written" != 0B ] || { echo "FAILED: no block I/O written in: $row"; exit 1; }
  local pids; pids=$(echo "$row" | awk '{print $14}')
  [ "$pids" -ge 1 ] || { echo "FAILED: pids $pids"; exit 1; }
  out=$(isula top st-$RT)
  echo "$out"
  has "$out" "while" "top shows the container's shell"
  ck isula rm -f st-$RT >/dev/null
}

test_pause() {
  ck isula run -d --name pz-$RT $IMG sleep 300 >/dev/null
  local d; d=$(cgdir pz-$RT) || exit 1
  ck isula pause pz-$RT >/dev/null
  eq "$(rd "$d/cgroup.freeze")" 1 "cgroup.freeze after pause"
  ck within 10 grep -qx 'frozen 1' "$d/cgroup.events"
  eq "$(isula inspect -f '{{.State.Status}}' pz-$RT)" paused "status"
  ck isula unpause pz-$RT >/dev/null
  eq "$(rd "$d/cgroup.freeze")" 0 "cgroup.freeze after unpause"
  ck within 10 grep -qx 'frozen 0' "$d/cgroup.events"
  ck isula rm -f pz-$RT >/dev/null
}

test_restart() {
  ck isula run -d --name rs-$RT -m 40m $IMG sleep 300 >/dev/null
  local d; d=$(cgdir rs-$RT) || exit 1
  local pid; pid=$(cpid rs-$RT)
  stop_daemon
  ck kill -0 "$pid"
  start_daemon "$DRIVER" "$RT" || exit 1
  eq "$(isula inspect -f '{{.State.Status}}' rs-$RT)" running "status after isulad restart"
  eq "$(cpid rs-$RT)" "$pid" "pid after isulad restart"
  has "$(isula stats --no-stream rs-$RT)" "40MiB" "stats after restart"
  ck isula update -m 50m rs-$RT >/dev/null
  eq "$(rd "$d/memory.max")" $((50 << 20)) "update after restart"
  ck isula stop -t 1 rs-$RT >/dev/null
  ck isula rm rs-$RT >/dev/null
}

test_systemd_units() {
  ck isula run -d --name sd-$RT $IMG sleep 300 >/dev/null
  local id; id=$(cid sd-$RT)
  cgdir sd-$RT >/dev/null || exit 1
  eq "$(systemctl is-active "isula-$id.scope")" active "scope unit state"
  eq "$(systemctl show -P Slice "isula-$id.scope")" system.slice "scope's slice"
  ck isula stop -t 1 sd-$RT >/dev/null
  ck isula rm sd-$RT >/dev/null
  ck within 10 no_units
}

test_pod() {
  local slice=kubepods-besteffort-pod$RANDOM$RANDOM.slice
  local dir; dir=$(mktemp -d "$work/pod.XXXXXX")
  ck guest_pod "$dir" "$work/busybox.tar" "$slice" "$RT"
  systemctl stop "$slice" kubepods-besteffort.slice kubepods.slice 2>/dev/null
  ck within 10 no_units
  rm -rf "$dir"
}

# --- the run --------------------------------------------------------------------------------
echo "guest: $(uname -r), $(nproc) cpus, $(grep -c . /proc/self/cgroup) cgroup line(s): $(head -c 40 /proc/self/cgroup)"
if ! grep -q ' /sys/fs/cgroup .* - cgroup2 ' /proc/self/mountinfo; then
  echo "FAIL the guest is not on the unified cgroup v2 hierarchy"; echo "0 1" >"$res/summary"; exit 1
fi
make_image
for DRIVER in cgroupfs systemd; do
  export DRIVER
  for RT in runc crun; do
    export RT
    if ! start_daemon "$DRIVER" "$RT"; then
      failed=$((failed + 1)); echo "FAIL start isulad ($DRIVER, $RT)"; continue
    fi
    isula images | grep -q '^busybox *guest' || isula import "$work/busybox.tar" $IMG >/dev/null
    [ "$RT" = runc ] && t "$DRIVER-info" test_info
    t "$DRIVER-$RT-memory-oom" test_memory_oom
    t "$DRIVER-$RT-cpu" test_cpu
    t "$DRIVER-$RT-pids" test_pids
    t "$DRIVER-$RT-stats-top" test_stats_top
    t "$DRIVER-$RT-pause" test_pause
    t "$DRIVER-$RT-restart" test_restart
    if [ "$DRIVER" = systemd ]; then
      t "systemd-$RT-units" test_systemd_units
    fi
    rmall
    stop_daemon
    if [ "$DRIVER" = systemd ]; then
      t "systemd-$RT-pod" test_pod
    fi
  done
done
# The systemd driver's alias in daemon.json.
t_alias() {
  printf '{"systemd-cgroup": true}\n' >"$work/daemon.json"
  start_daemon alias runc --config-file "$work/daemon.json" || exit 1
  has "$(isula info)" "Cgroup Driver: systemd" "info with systemd-cgroup: true"
  stop_daemon
}
t systemd-cgroup-alias t_alias
echo "$passed $failed" >"$res/summary"

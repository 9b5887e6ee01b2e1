#!/usr/bin/env bash
# bench/cri-floor.sh - the CPU that cri-bench.sh's parallel phase spends outside any CRI engine:
# crictl itself (three calls per pod) and the CNI plugins (bridge, host-local, portmap,
# loopback on ADD and DEL). Every crictl and plugin run goes through a small timing wrapper; their user +
# system CPU summed over P pods, divided by the cores, is the least wall time the phase can take
# on this machine with ANY engine, to be set against the 0.25x-containerd goal of issue 13.
#
#   bash bench/cri-floor.sh [-p PODS] [-b BINDIR]
#
# Needs, as root: isulad, isulad-shim and isula-pause in BINDIR (default target/release, else
# target/debug), crictl on PATH or $CRICTL, and the critest kit's network and images
# (../shared/critest: registry.sh start; registry.sh push; network.sh up /etc/critest/cni).
# The engine's own CPU is not counted. Its daemon runs on a temporary root and is stopped by PID.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
P=100
BIN=$ROOT/target/release
[[ -x $BIN/isulad ]] || BIN=$ROOT/target/debug
while getopts "p:b:h" o; do
    case $o in
    p) P=$OPTARG ;; b) BIN=$OPTARG ;;
    *) sed -n '2,13p' "$0" >&2; exit 2 ;;
    esac
done
CRICTL=${CRICTL:-$(command -v crictl)}
IMG=registry.k8s.io/e2e-test-images/busybox:1.29-2
CONF=/etc/critest/cni
[[ -d $CONF ]] || { echo "no CNI config: run ../shared/critest/network.sh up $CONF" >&2; exit 1; }

WORK=$(mktemp -d /var/tmp/isula-cri-floor.XXXXXX)
LOG=$WORK/cpu.log
DPID=
cleanup() {
    if [[ -n $DPID && -S $WORK/run/isulad.sock ]]; then
        # Pods outlive the daemon (their shims do): remove them first.
        local c=("$CRICTL" --runtime-endpoint "unix://$WORK/run/isulad.sock" --timeout 120s)
        "${c[@]}" pods -q 2>/dev/null | xargs -r -n 20 "${c[@]}" rmp -f >/dev/null 2>&1 || true
    fi
    if [[ -n $DPID ]]; then
        kill "$DPID" 2>/dev/null || true
        while [[ -e /proc/$DPID ]] && ! grep -q '^State:.*Z' "/proc/$DPID/status" 2>/dev/null; do sleep 0.1; done
    fi
    { grep -o " $WORK[^ ]*" /proc/self/mountinfo || true; } | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

# Wrappers that time the real programs: "NAME USER_S SYS_S" per run, from wait4's rusage
# (microseconds; /usr/bin/time rounds to 10 ms).
mkdir -p "$WORK/cni" "$WORK/bin"
cat > "$WORK/timed.c" <<'EOF'
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
/* timed LOG NAME PROGRAM ARGS...: run PROGRAM, append "NAME user sys" (seconds), pass its status on. */
int main(int argc, char **argv) {
    if (argc < 4) return 2;
    pid_t pid = fork();
    if (pid == 0) { execv(argv[3], argv + 3); _exit(127); }
    int st = 0; struct rusage ru;
    if (wait4(pid, &st, 0, &ru) < 0) return 1;
    FILE *f = fopen(argv[1], "a");
    if (f) {
        fprintf(f, "%s %ld.%06ld %ld.%06ld\n", argv[2], (long)ru.ru_utime.tv_sec, (long)ru.ru_utime.tv_usec,
                (long)ru.ru_stime.tv_sec, (long)ru.ru_stime.tv_usec);
        fclose(f);
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
EOF
gcc -O2 -o "$WORK/timed" "$WORK/timed.c"
# A program's rusage includes the children it waited for: bridge's includes its IPAM plugin
# (host-local, linked unwrapped) and portmap's its iptables runs.
ln -s /usr/lib/cni/host-local "$WORK/cni/host-local"
for p in bridge portmap loopback; do
    printf '#!/bin/sh\nexec %s %s %s /usr/lib/cni/%s "$@"\n' "$WORK/timed" "$LOG" "$p" "$p" > "$WORK/cni/$p"
    chmod +x "$WORK/cni/$p"
done
printf '#!/bin/sh\nexec %s %s crictl %s "$@"\n' "$WORK/timed" "$LOG" "$CRICTL" > "$WORK/bin/crictl"
chmod +x "$WORK/bin/crictl"

mkdir -p "$WORK/certs.d"
for h in registry.k8s.io gcr.io k8s.gcr.io; do
    mkdir -p "$WORK/certs.d/$h"
    printf 'server = "https://%s"\n[host."http://127.0.0.1:5001"]\n  capabilities = ["pull", "resolve"]\n' "$h" > "$WORK/certs.d/$h/hosts.toml"
done
SOCK=$WORK/run/isulad.sock
mkdir -p "$WORK/run"
PATH=$BIN:$PATH "$BIN/isulad" --graph "$WORK/root" --state "$WORK/run" -H "unix://$SOCK" \
    --network-plugin cni --cni-conf-dir "$CONF" --cni-bin-dir "$WORK/cni" \
    --registry-config-dir "$WORK/certs.d" --stream-server-port 0 > "$WORK/isulad.log" 2>&1 &
DPID=$!
for _ in $(seq 100); do [[ -S $SOCK ]] && break; sleep 0.1; done
C=("$WORK/bin/crictl" --runtime-endpoint "unix://$SOCK" --image-endpoint "unix://$SOCK" --timeout 120s)
"${C[@]}" pull "$IMG" >/dev/null 2>&1
cat > "$WORK/ctr.json" <<EOF
{"metadata":{"name":"busybox"},"image":{"image":"$IMG"},"command":["sh","-c","sleep 3600"],"log_path":"busybox.log","linux":{}}
EOF
for ((i = 1; i <= P; i++)); do
    mkdir -p "$WORK/logs/p$i"
    cat > "$WORK/p$i.json" <<EOF
{"metadata":{"name":"p$i","namespace":"cri-floor","uid":"p$i-$$","attempt":0},"log_directory":"$WORK/logs/p$i","linux":{}}
EOF
done
: > "$LOG"

phase() { # phase NAME: sum the log, print per-program CPU and the floor, then empty the log
    python3 - "$LOG" "$1" "$P" "$(nproc)" "$2" <<'PY'
import sys, collections
log, name, pods, cores, wall = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
cpu, runs = collections.Counter(), collections.Counter()
for line in open(log):
    f = line.split()
    if len(f) == 3 and f[1][0].isdigit():
        cpu[f[0]] += float(f[1]) + float(f[2]); runs[f[0]] += 1
total = sum(cpu.values())
print(f"## {name}: {pods} pods, wall {wall:.2f} s with isulad")
print("| program | runs | CPU s | CPU ms per pod |")
print("|---|---:|---:|---:|")
for k in sorted(cpu):
    print(f"| {k} | {runs[k]} | {cpu[k]:.2f} | {cpu[k] * 1000 / pods:.1f} |")
print(f"| **all** | {sum(runs.values())} | {total:.2f} | {total * 1000 / pods:.1f} |")
print(f"\nFloor on {cores} cores: {total / cores:.2f} s of wall time for crictl and CNI alone.\n")
PY
    : > "$LOG"
}

t0=$EPOCHREALTIME
chains=()
for ((i = 1; i <= P; i++)); do
    (
        pod=$("${C[@]}" runp "$WORK/p$i.json") &&
            ctr=$("${C[@]}" create --no-pull "$pod" "$WORK/ctr.json" "$WORK/p$i.json") &&
            "${C[@]}" start "$ctr" >/dev/null && echo "$pod" > "$WORK/pod.$i"
    ) 2>/dev/null &
    chains+=($!)
done
wait "${chains[@]}" || true
t1=$EPOCHREALTIME
phase "runp+create+start, all at once" "$(python3 -c "print($t1 - $t0)")"
t0=$EPOCHREALTIME
chains=()
for ((i = 1; i <= P; i++)); do
    [[ -f $WORK/pod.$i ]] || continue
    ( pod=$(cat "$WORK/pod.$i"); "${C[@]}" stopp "$pod" >/dev/null && "${C[@]}" rmp "$pod" >/dev/null ) 2>/dev/null &
    chains+=($!)
done
wait "${chains[@]}" || true
t1=$EPOCHREALTIME
phase "stopp+rmp, all at once" "$(python3 -c "print($t1 - $t0)")"

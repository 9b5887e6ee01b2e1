#!/usr/bin/env bash
# bench/cri.sh - the CRI lifecycle benchmark (../shared/critest/cri-bench.sh) against isulad and
# Debian's containerd 1.6 in one run, same images, same CNI network, same crictl.
#
#   bash bench/cri.sh [-k KIT] [-o OUT.md] [-r REPS] [-p PARALLEL] [-n SERIAL] [-a 'ISULAD FLAGS']
#
# -a: extra isulad flags, e.g. -a '--default-runtime crun' (containerd always uses runc).
#
# Needs, as root: release binaries (cargo build --release -p isulad -p isulad-shim -p isula-pause),
# crictl on PATH or $CRICTL, containerd (apt-get install containerd; a benchmark peer only), and
# the offline critest kit set up: KIT/build-images.sh, KIT/registry.sh start, KIT/registry.sh push,
# KIT/network.sh up /etc/critest/cni. Each engine gets its own temporary root, state and socket;
# both are stopped by PID at the end. Writes OUT.md (default bench/CRI-RESULTS.md) with both
# summaries and the raw result directories' paths.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
KIT=$ROOT/../shared/critest
OUTMD=$ROOT/bench/CRI-RESULTS.md
REPS=3 P=100 N=10 EXTRA=""
while getopts "k:o:r:p:n:a:h" o; do
    case $o in
    k) KIT=$OPTARG ;; o) OUTMD=$OPTARG ;; r) REPS=$OPTARG ;; p) P=$OPTARG ;; n) N=$OPTARG ;;
    a) EXTRA=$OPTARG ;;
    *) sed -n '2,12p' "$0" >&2; exit 2 ;;
    esac
done
CNI_CONF=/etc/critest/cni
BIN=$ROOT/target/release
for b in isulad isulad-shim isula-pause; do
    [[ -x $BIN/$b ]] || { echo "missing $BIN/$b: cargo build --release -p isulad -p isulad-shim -p isula-pause" >&2; exit 1; }
done
command -v containerd >/dev/null || { echo "containerd is missing (apt-get install containerd)" >&2; exit 1; }
[[ -d $CNI_CONF ]] || { echo "no CNI config: run $KIT/network.sh up $CNI_CONF" >&2; exit 1; }

WORK=$(mktemp -d /var/tmp/isula-cri-bench.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do while [[ -e /proc/$p ]] && ! grep -q '^State:.*Z' "/proc/$p/status" 2>/dev/null; do sleep 0.1; done; done
    { grep -o " $WORK[^ ]*" /proc/self/mountinfo || true; } | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

mirrors() { # mirrors DIR: hosts.toml sending the critest registries to the loopback registry
    local h
    for h in registry.k8s.io gcr.io k8s.gcr.io; do
        mkdir -p "$1/$h"
        printf 'server = "https://%s"\n\n[host."http://127.0.0.1:5001"]\n  capabilities = ["pull", "resolve"]\n' "$h" > "$1/$h/hosts.toml"
    done
}

wait_sock() { for _ in $(seq 100); do [[ -S $1 ]] && return 0; sleep 0.1; done; echo "no socket $1" >&2; return 1; }

# --- isulad ---------------------------------------------------------------------------------
I=$WORK/isula
mkdir -p "$I/root" "$I/state"
mirrors "$I/root/certs.d"
"$BIN/isulad" --graph "$I/root" --state "$I/state" -H "unix://$I/isulad.sock" \
    --network-plugin cni --cni-conf-dir "$CNI_CONF" --cni-bin-dir /usr/lib/cni \
    --registry-config-dir "$I/root/certs.d" $EXTRA > "$I/isulad.log" 2>&1 &
PIDS+=($!)
ISULAD_PID=$!
wait_sock "$I/isulad.sock"

# --- containerd -----------------------------------------------------------------------------
D=$WORK/containerd
mkdir -p "$D/certs.d"
mirrors "$D/certs.d"
cat > "$D/config.toml" <<EOF
version = 2
root = "$D/root"
state = "$D/state"
[grpc]
  address = "$D/containerd.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.6"
  # no CAP_SYS_RESOURCE on the benchmark machines: the pause container may not lower oom_score_adj
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$CNI_CONF"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$D/certs.d"
EOF
containerd --config "$D/config.toml" > "$D/containerd.log" 2>&1 &
PIDS+=($!)
CTD_PID=$!
wait_sock "$D/containerd.sock"
CRICTL=${CRICTL:-$(command -v crictl)}
"$CRICTL" --runtime-endpoint "unix://$D/containerd.sock" pull registry.k8s.io/pause:3.6 >/dev/null

RES=${CRITEST_RESULTS:-/var/tmp/critest-results}
bench() { # bench LABEL SOCK DAEMON_PID SHIM_CMD
    CRICTL=$CRICTL CRITEST_RESULTS=$RES "$KIT/cri-bench.sh" -e "unix://$2" -l "$1" -r "$REPS" -p "$P" -n "$N" \
        -D "echo $3" -S "$4" -o "$WORK/out-$1" > "$WORK/$1.summary" 2> "$WORK/$1.log"
    mkdir -p "$RES" && cp -r "$WORK/out-$1" "$RES/$1-cribench-$(date +%Y%m%d-%H%M%S)"
}
bench isula "$I/isulad.sock" "$ISULAD_PID" "pgrep -x isulad-shim; pgrep -x isula-pause"
bench containerd "$D/containerd.sock" "$CTD_PID" "pgrep -f containerd-shim-runc-v2 -d ' '; pgrep -x pause"

{
    echo "# CRI benchmark: isulad vs containerd $(containerd --version | awk '{print $3}')"
    echo
    echo "$(date -u +%Y-%m-%d), $(nproc) vCPU, kernel $(uname -r), crictl $("$CRICTL" --version | awk '{print $NF}'),"
    echo "runc $(runc --version | awk 'NR==1{print $3}'), CNI $CNI_CONF, images from the loopback registry;"
    echo "isulad at $(git -C "$ROOT" rev-parse --short HEAD) (release)${EXTRA:+, flags: $EXTRA}. Made by bench/cri.sh."
    echo
    echo "## isulad"; echo; cat "$WORK/isula.summary"; echo
    echo "## containerd"; echo; cat "$WORK/containerd.summary"
} > "$OUTMD"
echo "wrote $OUTMD"

#!/usr/bin/env bash
# bench/stream.sh - CRI exec and streaming benchmark: ExecSync and streaming exec of `true`
# (round trip through crictl) and port-forward throughput, isulad vs Debian's containerd 1.6 in
# one run, same image, same CNI network, same crictl, both on runc (and isulad on crun with -c).
#
#   bash bench/stream.sh [-k KIT] [-o OUT.md] [-n SERIAL] [-b BYTES] [-r REPS] [-c] [-a 'ISULAD FLAGS']
#
# -n: serial execs per row (default 50); -b: bytes per port-forward transfer (default 1 GiB);
# -r: transfers per row (default 3); -c: also a pod with runtime handler crun on isulad.
#
# Needs, as root: release binaries (cargo build --release -p isulad -p isulad-shim -p isula-pause),
# crictl on PATH or $CRICTL, containerd (apt-get install containerd; a benchmark peer only), the
# offline critest kit's images (KIT/build-images.sh, KIT/registry.sh push once) and its CNI config
# (KIT/network.sh up /etc/critest/cni). When the kit's registry is not running, a private read-only
# docker-registry on 127.0.0.1:$BENCH_REG_PORT (5091) serves its data for the run. Each engine gets its
# own temporary root, state and socket; the script is the child subreaper of everything it starts
# and stops it all by PID at the end. Writes OUT.md (default bench/STREAM-RESULTS.md).
set -euo pipefail
if [[ -z ${STREAM_BENCH_REAPER:-} ]]; then
    # Become a child subreaper (PR_SET_CHILD_SUBREAPER = 36, kept across execve): the shims that
    # daemonise are reparented to this script and reaped by bash, not left to a slow PID 1.
    export STREAM_BENCH_REAPER=1
    exec python3 -c 'import ctypes, os, sys
if ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) != 0:
    sys.exit("prctl(PR_SET_CHILD_SUBREAPER) failed")
os.execvp("bash", ["bash"] + sys.argv[1:])' "$0" "$@"
fi
ROOT=$(cd "$(dirname "$0")/.." && pwd)
KIT=$ROOT/../shared/critest
OUTMD=$ROOT/bench/STREAM-RESULTS.md
N=50 BYTES=$((1 << 30)) REPS=3 CRUN=0 EXTRA=""
while getopts "k:o:n:b:r:ca:h" o; do
    case $o in
    k) KIT=$OPTARG ;; o) OUTMD=$OPTARG ;; n) N=$OPTARG ;; b) BYTES=$OPTARG ;; r) REPS=$OPTARG ;;
    c) CRUN=1 ;; a) EXTRA=$OPTARG ;;
    *) sed -n '2,17p' "$0" >&2; exit 2 ;;
    esac
done
CNI_CONF=/etc/critest/cni
BIN=$ROOT/target/release
IMG=registry.k8s.io/e2e-test-images/busybox:1.29-2
CRICTL=${CRICTL:-$(command -v crictl || true)}
CRICLIENT=${CRICLIENT:-$ROOT/target/release/criclient}
for b in isulad isulad-shim isula-pause; do
    [[ -x $BIN/$b ]] || { echo "missing $BIN/$b: cargo build --release -p isulad -p isulad-shim -p isula-pause" >&2; exit 1; }
done
[[ -x $CRICTL ]] || { echo "crictl not found: put it on PATH or set CRICTL" >&2; exit 1; }
command -v containerd >/dev/null || { echo "containerd is missing (apt-get install containerd)" >&2; exit 1; }
[[ -d $CNI_CONF ]] || { echo "no CNI config: run $KIT/network.sh up $CNI_CONF" >&2; exit 1; }

((BYTES % (1 << 20) == 0 && BYTES > 0)) || { echo "-b BYTES must be a positive multiple of 1 MiB" >&2; exit 2; }
WORK=$(mktemp -d /var/tmp/isula-stream-bench.XXXXXX)
: > "$WORK/crictl.yaml" # no /etc/crictl.yaml lookups and warnings
PIDS=() # long-lived processes we started, stopped in reverse order
ENDPOINTS=()
log() { echo "[$(date +%T)] $*" >&2; }
exec 9>&2 # the original stderr, for errors while a step's stderr goes to a log
cleanup() {
    local rc=$?
    set +e
    if ((rc != 0)) && [[ -s $WORK/crictl.log ]]; then echo "failed; last crictl messages:" >&9; tail -5 "$WORK/crictl.log" >&9; fi
    for ep in "${ENDPOINTS[@]}"; do
        ids=$("$CRICTL" --config "$WORK/crictl.yaml" --runtime-endpoint "$ep" pods -q --label "stream-bench=$$" 2>/dev/null)
        [[ -z $ids ]] || echo "$ids" | xargs -r "$CRICTL" --config "$WORK/crictl.yaml" --runtime-endpoint "$ep" rmp -f >/dev/null 2>&1
    done
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do kill "${PIDS[i]}" 2>/dev/null; done
    for p in "${PIDS[@]}"; do
        for _ in $(seq 300); do [[ -e /proc/$p ]] && ! grep -q '^State:.*Z' "/proc/$p/status" 2>/dev/null || break; sleep 0.1; done
    done
    wait 2>/dev/null
    { grep -o " $WORK[^ ]*" /proc/self/mountinfo || true; } | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

wait_sock() { for _ in $(seq 100); do [[ -S $1 ]] && return 0; sleep 0.1; done; echo "no socket $1" >&2; return 1; }

# --- registry: the kit's if it runs, else a private read-only one on its data --------------------
REG=127.0.0.1:5001
if ! curl -fsS --noproxy '*' -o /dev/null "http://$REG/v2/" 2>/dev/null; then
    REG=127.0.0.1:${BENCH_REG_PORT:-5091}
    [[ -d /var/lib/critest-registry/data ]] || { echo "no registry data: run $KIT/registry.sh start && push once" >&2; exit 1; }
    cat > "$WORK/registry.yml" <<YAML
version: 0.1
log: {level: warn, accesslog: {disabled: true}}
storage:
  filesystem: {rootdirectory: /var/lib/critest-registry/data}
  maintenance: {readonly: {enabled: true}, uploadpurging: {enabled: false}}
http: {addr: "$REG"}
YAML
    docker-registry serve "$WORK/registry.yml" > "$WORK/registry.log" 2>&1 < /dev/null &
    PIDS+=($!)
    for _ in $(seq 100); do curl -fsS --noproxy '*' -o /dev/null "http://$REG/v2/" 2>/dev/null && break; sleep 0.1; done
    curl -fsS --noproxy '*' -o /dev/null "http://$REG/v2/" || { cat "$WORK/registry.log" >&2; exit 1; }
fi
mirrors() { # mirrors DIR: hosts.toml sending the critest registries to $REG
    local h
    for h in registry.k8s.io gcr.io k8s.gcr.io; do
        mkdir -p "$1/$h"
        printf 'server = "https://%s"\n\n[host."http://%s"]\n  capabilities = ["pull", "resolve"]\n' "$h" "$REG" > "$1/$h/hosts.toml"
    done
}

# --- isulad ---------------------------------------------------------------------------------------
I=$WORK/isula
mkdir -p "$I/root" "$I/state"
mirrors "$I/root/certs.d"
# shellcheck disable=SC2086
"$BIN/isulad" --graph "$I/root" --state "$I/state" -H "unix://$I/isulad.sock" \
    --network-plugin cni --cni-conf-dir "$CNI_CONF" --cni-bin-dir /usr/lib/cni \
    --registry-config-dir "$I/root/certs.d" --stream-server-port 0 $EXTRA > "$I/isulad.log" 2>&1 &
PIDS+=($!)
wait_sock "$I/isulad.sock"
ENDPOINTS+=("unix://$I/isulad.sock")

# --- containerd -----------------------------------------------------------------------------------
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
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
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
wait_sock "$D/containerd.sock"
ENDPOINTS+=("unix://$D/containerd.sock")

# --- pods ---------------------------------------------------------------------------------------
# One pod per row: `sleeper` (sleep, the exec target) and `srv`, which serves BYTES zero bytes
# to each connection on port 8000, one connection at a time: busybox `nc -e dd bs=1M` (dd writes the
# socket in 1 MiB blocks; `head | nc` copies through a small buffer and tops out near 200 MB/s).
SRV_PORT=8000
pod_up() { # pod_up LABEL ENDPOINT [RUNTIME_HANDLER] -> sets POD CTR POD_IP
    local label=$1 ep=$2 rt=${3:-} f=$WORK/$1.pod.json
    local c=("$CRICTL" --config "$WORK/crictl.yaml" --runtime-endpoint "$ep" --image-endpoint "$ep" --timeout 120s)
    mkdir -p "$WORK/logs/$label"
    cat > "$f" <<EOF
{"metadata":{"name":"stream-$label","namespace":"stream-bench","uid":"stream-$label-$$","attempt":0},
 "log_directory":"$WORK/logs/$label","labels":{"stream-bench":"$$"},"linux":{}}
EOF
    cat > "$WORK/$label.sleeper.json" <<EOF
{"metadata":{"name":"sleeper"},"image":{"image":"$IMG"},"command":["sleep","3600"],"log_path":"sleeper.log","linux":{}}
EOF
    cat > "$WORK/$label.srv.json" <<EOF
{"metadata":{"name":"srv"},"image":{"image":"$IMG"},"log_path":"srv.log","linux":{},
 "command":["sh","-c","while :; do nc -l -p $SRV_PORT -e dd if=/dev/zero bs=1048576 count=$((BYTES >> 20)) 2>/dev/null; done"]}
EOF
    exec 3>&2 2>> "$WORK/crictl.log"
    "${c[@]}" pull "$IMG" >/dev/null
    POD=$("${c[@]}" runp ${rt:+--runtime "$rt"} "$f")
    CTR=$("${c[@]}" create --no-pull "$POD" "$WORK/$label.sleeper.json" "$f")
    "${c[@]}" start "$CTR" >/dev/null
    local srv
    srv=$("${c[@]}" create --no-pull "$POD" "$WORK/$label.srv.json" "$f")
    "${c[@]}" start "$srv" >/dev/null
    POD_IP=$("${c[@]}" inspectp -o go-template --template '{{.status.network.ip}}' "$POD")
    exec 2>&3 3>&-
}

# ms of one command, or "fail"
ms() {
    local t0=$EPOCHREALTIME
    "$@" > /dev/null 2>> "$WORK/errors.log" || { echo fail; return 0; }
    local t1=$EPOCHREALTIME
    echo "$(( (${t1/./} - ${t0/./}) / 1000 )).$(( (${t1/./} - ${t0/./}) % 1000 / 100 ))"
}

# warm LABEL OP CMD...: one untimed run; when it fails (e.g. no SPDY server yet) the row is
# recorded as pending and 1 is returned
warm() {
    local label=$1 op=$2
    shift 2
    "$@" > /dev/null 2> "$WORK/$label.$op.warmup.err" && return 0
    echo "$label,$op,pending,$(head -c 300 "$WORK/$label.$op.warmup.err" | tr '\n,' '  ')" >> "$WORK/pending.csv"
    log "$label $op: warm-up failed, row pending"
    return 1
}

# serial OP ARGS...: N rounds; each round times `crictl ARGS` once per row whose warm-up passed,
# the rows in turn (the first row rotates) so that all engines see the same machine load.
# ARGS may contain @CTR@, replaced by the row's exec target.
serial() {
    local op=$1 i j k t label
    shift
    local ok=()
    for ((k = 0; k < ${#LABELS[@]}; k++)); do
        label=${LABELS[k]}
        warm "$label" "$op" "$CRICTL" --config "$WORK/crictl.yaml" --runtime-endpoint "${EPS[k]}" "${@//@CTR@/${CTRS[k]}}" && ok+=("$k")
    done
    ((${#ok[@]})) || return 0
    for ((i = 1; i <= N; i++)); do
        for ((j = 0; j < ${#ok[@]}; j++)); do
            k=${ok[(i + j) % ${#ok[@]}]}
            t=$(ms "$CRICTL" --config "$WORK/crictl.yaml" --runtime-endpoint "${EPS[k]}" "${@//@CTR@/${CTRS[k]}}")
            echo "${LABELS[k]},$op,$i,$t" >> "$WORK/serial.csv"
        done
    done
}

# serial_rpc OP: OP (execsync: ExecSync of `true`; exec: Exec of `true` and its SPDY session until
# the status) timed inside a CRI client (bench/criclient: one connection, one untimed call, then
# one timed call), so without crictl's start-up; rounds as in serial(). Rows OP_rpc.
serial_rpc() {
    local op=$1 i j k t
    [[ -x $CRICLIENT ]] || { log "no $CRICLIENT (cd bench/criclient && cargo build --release): no ${op}_rpc rows"; return 0; }
    for ((i = 1; i <= N; i++)); do
        for ((j = 0; j < ${#LABELS[@]}; j++)); do
            k=$(((i + j) % ${#LABELS[@]}))
            t=$("$CRICLIENT" "$op" "${EPS[k]#unix://}" "${CTRS[k]}" 1 2>> "$WORK/errors.log") || t=fail
            echo "${LABELS[k]},${op}_rpc,$i,$t" >> "$WORK/serial.csv"
        done
    done
}

# recv PORT BYTES -> "bytes seconds": connect to 127.0.0.1:PORT (or HOST:PORT) and read BYTES
recv() {
    python3 - "$1" "$2" <<'EOF'
import socket, sys, time
host, _, port = sys.argv[1].rpartition(":")
total = int(sys.argv[2])
buf = bytearray(1 << 20)
t0 = time.perf_counter()
s = socket.create_connection((host or "127.0.0.1", int(port)), timeout=120)
got = 0
while got < total:
    n = s.recv_into(buf)
    if n == 0:
        break
    got += n
t1 = time.perf_counter()
s.close()
print(got, f"{t1 - t0:.6f}")
EOF
}

# portforward LABEL ENDPOINT LOCALPORT: REPS transfers of BYTES through `crictl port-forward`
portforward() {
    local label=$1 ep=$2 lport=$3 pf i out
    : > "$WORK/$label.pf.log"
    "$CRICTL" --config "$WORK/crictl.yaml" --runtime-endpoint "$ep" port-forward "$POD" "$lport:$SRV_PORT" > "$WORK/$label.pf.log" 2>&1 &
    pf=$!
    PIDS+=("$pf")
    for _ in $(seq 100); do grep -q '^Forwarding from' "$WORK/$label.pf.log" && break; kill -0 "$pf" 2>/dev/null || break; sleep 0.1; done
    if ! grep -q '^Forwarding from' "$WORK/$label.pf.log"; then
        echo "$label,portforward,pending,$(head -c 300 "$WORK/$label.pf.log" | tr '\n,' '  ')" >> "$WORK/pending.csv"
        log "$label port-forward: not forwarding, row pending"
        kill "$pf" 2>/dev/null || true
        return 0
    fi
    for ((i = 0; i <= REPS; i++)); do # transfer 0: warm-up
        out=$(recv "127.0.0.1:$lport" "$BYTES" 2>> "$WORK/errors.log") || out="0 0"
        ((i == 0)) || echo "$label,portforward,$i,${out/ /,}" >> "$WORK/transfer.csv"
        sleep 0.5 # nc in the pod listens again
    done
    kill "$pf" 2>/dev/null || true
}

direct() { # direct LABEL: the same transfer straight to the pod IP (no port-forward), for reference
    local i out
    for ((i = 1; i <= REPS; i++)); do
        out=$(recv "$POD_IP:$SRV_PORT" "$BYTES" 2>> "$WORK/errors.log") || out="0 0"
        echo "$1,direct,$i,${out/ /,}" >> "$WORK/transfer.csv"
        sleep 0.5
    done
}

echo "label,op,i,ms" > "$WORK/serial.csv"
echo "label,op,i,bytes,seconds" > "$WORK/transfer.csv"
: > "$WORK/pending.csv"
ROWS=("isula-runc unix://$I/isulad.sock runc 18081" "containerd-runc unix://$D/containerd.sock runc 18082")
((CRUN == 0)) || ROWS+=("isula-crun unix://$I/isulad.sock crun 18083")
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
LABELS=() EPS=() CTRS=() PODS=() IPS=() LPORTS=()
for row in "${ROWS[@]}"; do
    read -r label ep rt lport <<< "$row"
    log "$label: pod"
    pod_up "$label" "$ep" "$rt"
    LABELS+=("$label") EPS+=("$ep") CTRS+=("$CTR") PODS+=("$POD") IPS+=("$POD_IP") LPORTS+=("$lport")
done
log "serial x$N, engines interleaved: crictl version, exec -s, exec"
serial crictl_version version
serial execsync exec -s @CTR@ true
serial exec exec @CTR@ true
serial_rpc execsync
serial_rpc exec
for ((k = 0; k < ${#LABELS[@]}; k++)); do
    POD=${PODS[k]} POD_IP=${IPS[k]}
    log "${LABELS[k]}: port-forward $REPS x $BYTES bytes"
    portforward "${LABELS[k]}" "${EPS[k]}" "${LPORTS[k]}"
    direct "${LABELS[k]}"
done
for ((k = 0; k < ${#LABELS[@]}; k++)); do
    "$CRICTL" --config "$WORK/crictl.yaml" --runtime-endpoint "${EPS[k]}" rmp -f "${PODS[k]}" > /dev/null 2>&1
done

python3 - "$WORK" "$N" "$BYTES" > "$WORK/summary.md" <<'EOF'
import csv, statistics, sys, os
work, n, nbytes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def pct(v, p):
    v = sorted(v); k = (len(v) - 1) * p; f = int(k)
    return v[f] + (v[min(f + 1, len(v) - 1)] - v[f]) * (k - f)
ser = {}
fails = {}
for r in csv.DictReader(open(os.path.join(work, "serial.csv"))):
    key = (r["label"], r["op"])
    if r["ms"] == "fail":
        fails[key] = fails.get(key, 0) + 1
    else:
        ser.setdefault(key, []).append(float(r["ms"]))
pend = {}
for line in open(os.path.join(work, "pending.csv")):
    label, op, _, why = line.rstrip("\n").split(",", 3)
    pend[(label, op)] = why.strip()
order = ["isula-runc", "containerd-runc", "isula-crun"]
labels = sorted({k[0] for k in list(ser) + list(pend) + list(fails)}, key=lambda l: (order.index(l) if l in order else 9, l))
print("| engine | op (serial; *_rpc: timed inside bench/criclient, no crictl) | median ms | p90 ms | min | max | n | failed |")
print("|---|---|---:|---:|---:|---:|---:|---:|")
for label in labels:
    for op in ("crictl_version", "execsync", "exec", "execsync_rpc", "exec_rpc"):
        k = (label, op)
        if k in ser:
            v = ser[k]
            print(f"| {label} | {op} | {statistics.median(v):.1f} | {pct(v, .9):.1f} | {min(v):.1f} | {max(v):.1f} | {len(v)} | {fails.get(k, 0)} |")
        elif k in pend:
            print(f"| {label} | {op} | pending | | | | | |")
print()
print("Net of crictl's own start-up and one CRI round trip (median op - median crictl_version), and the")
print("ratio to containerd's median (gross = whole crictl command; net as in the first columns):")
print()
print("| engine | execsync net ms | exec net ms | execsync ratio gross / net | exec ratio gross / net |")
print("|---|---:|---:|---:|---:|")
def med(label, op):
    v = ser.get((label, op))
    return statistics.median(v) if v else None
ref = "containerd-runc"
for label in labels:
    base = med(label, "crictl_version")
    cells, ratios = [], []
    for op in ("execsync", "exec"):
        m = med(label, op)
        net = m - base if m is not None and base is not None else None
        cells.append(f"{net:.1f}" if net is not None else "pending")
        r, rb = med(ref, op), med(ref, "crictl_version")
        if m is None or r is None:
            ratios.append("")
        else:
            ratios.append(f"{m / r:.2f} / {net / (r - rb):.2f}" if rb is not None and net is not None else f"{m / r:.2f}")
    print(f"| {label} | {cells[0]} | {cells[1]} | {ratios[0]} | {ratios[1]} |")
print()
if any(k[1] in ("execsync_rpc", "exec_rpc") for k in ser):
    print("Timed inside a CRI client (bench/criclient, no crictl): ExecSync, and Exec plus its SPDY")
    print("session until the status; ratio to containerd's median:")
    print()
    print("| engine | execsync_rpc median ms | ratio | exec_rpc median ms | ratio |")
    print("|---|---:|---:|---:|---:|")
    for label in labels:
        cells = []
        for op in ("execsync_rpc", "exec_rpc"):
            m, r = med(label, op), med(ref, op)
            cells += [f"{m:.1f}" if m is not None else "", f"{m / r:.2f}" if m is not None and r else ""]
        print(f"| {label} | " + " | ".join(cells) + " |")
    print()
tr = {}
for r in csv.DictReader(open(os.path.join(work, "transfer.csv"))):
    b, s = int(r["bytes"]), float(r["seconds"])
    tr.setdefault((r["label"], r["op"]), []).append((b, s))
print(f"| engine | transfer of {nbytes} bytes | median MB/s | per transfer (MB/s) | complete |")
print("|---|---|---:|---|---:|")
for label in labels:
    for op in ("portforward", "direct"):
        k = (label, op)
        if k in tr:
            rates = [b / s / 1e6 if s > 0 else 0 for b, s in tr[k]]
            ok = sum(1 for b, _ in tr[k] if b == nbytes)
            print(f"| {label} | {op} | {statistics.median(rates):.0f} | {', '.join(f'{x:.0f}' for x in rates)} | {ok}/{len(rates)} |")
        elif k in pend:
            print(f"| {label} | {op} | pending | | |")
if pend:
    print()
    print("Pending rows (the warm-up failed):")
    print()
    for (label, op), why in pend.items():
        print(f"- {label} {op}: `{why[:200]}`")
EOF

{
    echo "# CRI streaming benchmark: isulad vs containerd $(containerd --version | awk '{print $3}')"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) vCPU, kernel $(uname -r), load at start $LOAD,"
    echo "crictl $("$CRICTL" --version | awk '{print $NF}'), runc $(runc --version | awk 'NR==1{print $3}'), crun $(crun --version | awk 'NR==1{print $3}'),"
    echo "image $IMG from $REG, CNI $CNI_CONF; isulad at $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- . ':!bench' || echo '+changes') (release)${EXTRA:+, flags: $EXTRA}."
    echo "Made by \`bash bench/stream.sh -n $N -b $BYTES -r $REPS$( ((CRUN)) && echo ' -c')\`: per engine one pod (busybox \`sleep\` as the exec"
    echo "target, busybox \`nc\` serving zeros on port $SRV_PORT), one untimed warm-up per row, then $N serial"
    echo "\`crictl exec -s CTR true\` (ExecSync) and \`crictl exec CTR true\` (Exec + SPDY stream), each timed"
    echo "from fork to exit of crictl, the engines interleaved (round i runs each engine once, in rotating"
    echo "order); $REPS transfers of $BYTES bytes (after a warm-up transfer) through one"
    echo "\`crictl port-forward POD PORT:$SRV_PORT\` read by a Python client on loopback, and the same read"
    echo "straight from the pod IP (no port-forward) for reference; then $N rounds of one ExecSync and"
    echo "of one Exec + SPDY session timed inside bench/criclient (its own connection, an untimed first"
    echo "call). MB = 10^6 bytes."
    echo
    cat "$WORK/summary.md"
} > "$OUTMD"
cp "$WORK/serial.csv" "${OUTMD%.md}.serial.csv"
cp "$WORK/transfer.csv" "${OUTMD%.md}.transfer.csv"
cat "$OUTMD"
echo "wrote $OUTMD"

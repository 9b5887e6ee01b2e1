#!/usr/bin/env bash
# A/B of the engine's exec path, in process (no gRPC, no crictl): `shimbench exec` of two builds,
# each with its own isulad-shim, on runc and crun, two rounds. Build each version with
#   (cd bench/shimbench && cargo build --release) && cargo build --release -p isulad-shim
# and copy target/release/{shimbench,isulad-shim} to DIR/old and DIR/new; ARCHIVE is a busybox
# docker-archive, e.g. python3 -c 'import sys; sys.path.insert(0, "bench"); import ptcr;
# ptcr.docker_archive(ptcr.rootfs_layer(), "/tmp/bb.tar")'. Run as root under a child subreaper:
#   python3 -c 'import ctypes, os; ctypes.CDLL(None).prctl(36, 1, 0, 0, 0); os.execvp("bash", ["bash", "bench/shimbench/exec-ab.sh", DIR, ARCHIVE])'
set -u
DIRAB=${1:?usage: exec-ab.sh DIR ARCHIVE}
ARCHIVE=${2:?usage: exec-ab.sh DIR ARCHIVE}
N=${N:-150}
for round in 1 2; do
  for rt in runc crun; do
    for v in old new; do
      d=$(mktemp -d /var/tmp/b-ab.XXXXXX)
      out=$("$DIRAB/$v/shimbench" exec "$DIRAB/$v/isulad-shim" "$rt" "$d" "$ARCHIVE" "$N" 2>$d.err)
      python3 - "$round" "$rt" "$v" "$out" <<'PY'
import json,sys,statistics
r,rt,v,out=sys.argv[1:5]
d=json.loads(out)
if "error" in d: print(r,rt,v,"ERROR",d["error"]); sys.exit()
x=sorted(t*1000 for t in d["exec_s"])
p=lambda q: x[min(len(x)-1,int(q*(len(x)-1)+0.5))]
print(f"{r} {rt:4} {v}: median {statistics.median(x):6.2f} ms  p10 {p(.1):6.2f}  p90 {p(.9):6.2f}  min {x[0]:6.2f}  n={len(x)}")
PY
      grep -o " $d[^ ]*" /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m"; done
      rm -rf "$d" "$d.err"
    done
  done
done

#!/usr/bin/env python3
"""Serial `run -d` of isula against the bare OCI runtime, interleaved (issue 16's serial goal).

Run as root from the repository root, after the release build and bench/shimbench:

    python3 bench/serial_ab.py --runtimes runc,crun --fs host,loop --rounds 30

ptcr.py measures each engine in its own phase, so drift of the machine between phases (CPU
power states, other work) lands on one side only. Here every round runs one container per
side, in alternating order, with the same bundle contents ptcr.py uses (busybox, `sleep 1000`,
the same default seccomp filter for the bare runtime as isula generates): `isula run -d
--network none` against `RT run --detach`, each followed by an untimed `rm -f` / `RT delete
--force`. Prints a Markdown table: medians, p90 and the ratio of medians per runtime and
filesystem. Python 3 standard library only (plus ptcr.py's helpers).
"""

import argparse
import io
import json
import os
import sys
import tarfile
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ptcr  # noqa: E402


def measure(work, args, runtime, archive, rootfs, tag):
    """Interleaved rounds on one filesystem for one runtime; returns (isula_s, bare_s)."""
    isula = ptcr.Isula(work, args.bindir, runtime, archive, ["--network", "none"])
    bare = ptcr.Bare(work, runtime, rootfs)
    engines = [isula, bare]
    try:
        for e in engines:
            e.setup()
            w = f"{tag}-warm-{e.name.split()[0]}"
            e.prepare(w)
            e.run_d(w)
            e.rm_f(w)
        times = {id(e): [] for e in engines}
        for i in range(args.rounds):
            order = engines if i % 2 == 0 else engines[::-1]
            for e in order:
                n = f"{tag}-{i}"
                e.prepare(n)
                times[id(e)].append(e.run_d(n))
                e.rm_f(n)
        return times[id(isula)], times[id(bare)]
    finally:
        for e in engines:
            try:
                e.cleanup()
            except Exception as ex:  # keep cleaning the other
                print(f"warning: cleanup of {e.name}: {ex}", file=sys.stderr)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(here)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runtimes", default="runc,crun")
    ap.add_argument("--fs", default="host,loop", help="host, loop or both")
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--bindir", default=os.path.join(repo, "target", "release"))
    ap.add_argument("--shimbench", default=os.path.join(repo, "target", "release", "shimbench"))
    ap.add_argument("--tmp", default=None)
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("serial_ab.py must run as root")
    ptcr.SECCOMP = json.loads(ptcr.output([args.shimbench, "seccomp"]))
    ptcr.Procs.start_reaper()
    tmp = tempfile.mkdtemp(prefix="isula-ab-", dir=args.tmp)
    rows = []
    try:
        for fs in [x for x in args.fs.split(",") if x]:
            work = os.path.join(tmp, fs)
            os.makedirs(work)
            if fs == "loop":
                work = ptcr.bench_fs(work)
            layer = ptcr.rootfs_layer()
            archive = os.path.join(work, "busybox.tar")
            ptcr.docker_archive(layer, archive)
            rootfs = os.path.join(work, "rootfs")
            os.makedirs(rootfs)
            with tarfile.open(fileobj=io.BytesIO(layer)) as t:
                t.extractall(rootfs)
            for rt in [x for x in args.runtimes.split(",") if x]:
                print(f"== {fs} {rt}", file=sys.stderr)
                a, b = measure(os.path.join(work, rt), args, rt, archive, rootfs, f"ab{os.getpid()}{fs}{rt}")
                rows.append((fs, rt, a, b))
                ptcr.unmount_under(os.path.join(work, rt))
    finally:
        ptcr.final_sweep(tmp)
        ptcr.Procs.stop_reaper()
    print(f"Interleaved serial `run -d`, {args.rounds} rounds, load average at the end: "
          f"{' '.join(open('/proc/loadavg').read().split()[:3])}\n")
    print("| filesystem | runtime | isula median / p90 (ms) | bare median / p90 (ms) | ratio of medians |")
    print("|---|---|---:|---:|---:|")
    for fs, rt, a, b in rows:
        sa, sb = ptcr.stats(a), ptcr.stats(b)
        print(f"| {fs} | {rt} | {sa['median_ms']:.1f} / {sa['p90_ms']:.1f} | {sb['median_ms']:.1f} / "
              f"{sb['p90_ms']:.1f} | {sa['median_ms'] / sb['median_ms']:.2f}× |")


if __name__ == "__main__":
    main()

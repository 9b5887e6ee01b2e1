#!/usr/bin/env python3
"""Soak: isulad through thousands of container lifecycles; its resources must stay flat.

Run as root from the repository root, after the release build:

    cargo build --release -p isulad -p isula -p isulad-shim -p isula-pause
    python3 bench/soak.py --cycles 2000 --rounds 20 --parallel 100 --out bench/SOAK-RESULTS.md

On a private isulad (temporary root, state and socket, its own default bridge `--bridge`
with a fixed `--bip`, so the host's networks are not touched):

1. serial phase: `--cycles` times `run -d busybox sleep 1000` then `rm -f` (default network:
   CNI add/del, an IP lease, a veth, a shim, an overlay mount each time);
2. parallel phase: `--rounds` rounds of `--parallel` containers `run -d` at once (`--workers`
   threads), then all removed at once;
3. daemon samples (RSS, PSS, open fds, threads) at the start, every `--every` cycles, after
   every round, and after a settle at the end; plus per phase the wall time and failures;
4. leftovers at the end: shims, mounts under the root, veths on the host, bridge leases.

Growth is judged on the settled samples: the last serial sample against the first one taken
after warm-up (the first `--every` cycles), and the last round against the first round.
Python 3 standard library only.
"""

import argparse
import datetime
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ptcr  # noqa: E402
import scale  # noqa: E402
from ptcr import CmdError, Procs, mem_sum  # noqa: E402


def daemon_sample(e, label):
    """RSS/PSS (KiB), open fds and threads of the daemon now."""
    pid = e.daemon.pid
    m = mem_sum([pid])
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    threads = None
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Threads:"):
                threads = int(line.split()[1])
    return {"at": label, "rss_kib": m["rss_kib"], "pss_kib": m["pss_kib"], "fds": fds, "threads": threads,
            "t": round(time.perf_counter() - T0, 1)}


def settle(e, seconds):
    """Wait for the daemon's idle trims: 300 ms after the last call, and again once the idle
    threads of its blocking pool have exited (10 s)."""
    time.sleep(seconds)


def veths():
    return sorted(n for n in os.listdir("/sys/class/net") if n.startswith("veth"))


def leftovers(e, root, before_veths):
    shims = e.shim_pids()
    return {"shims": len(shims), "mounts_under_root": scale.mounts_under(root),
            "new_veths": sorted(set(veths()) - set(before_veths))}


def serial_phase(e, args, samples):
    t0 = time.perf_counter()
    failures = []
    for i in range(args.cycles):
        name = f"soak{i}"
        try:
            e.run_d(name)
            e.rm_f(name)
        except CmdError as ex:
            failures.append(f"{name}: {str(ex)[:200]}")
            e.remove_leftovers()
        if (i + 1) % args.every == 0:
            samples.append(daemon_sample(e, f"cycle {i + 1}"))
            print(f"  cycle {i + 1}: {samples[-1]}", file=sys.stderr)
    return {"wall_s": round(time.perf_counter() - t0, 1), "failures": failures[:20], "failed": len(failures)}


def parallel_phase(e, args, samples):
    t0 = time.perf_counter()
    failed = 0
    first = []
    for r in range(args.rounds):
        names = [f"soakp{r}x{i}" for i in range(args.parallel)]
        _, f1 = scale.parallel(e.run_d, names, args.workers)
        _, f2 = scale.parallel(e.rm_f, names, args.workers)
        if f1 or f2:
            failed += len(f1) + len(f2)
            first.extend((f1 + f2)[:3])
            e.remove_leftovers()
        settle(e, args.round_settle)
        samples.append(daemon_sample(e, f"round {r + 1}"))
        print(f"  round {r + 1}: {samples[-1]}", file=sys.stderr)
    return {"wall_s": round(time.perf_counter() - t0, 1), "failures": first[:20], "failed": failed}


def growth(a, b):
    return {k: b[k] - a[k] for k in ("rss_kib", "pss_kib", "fds", "threads")}


def report(facts, r):
    s = r["samples"]
    lines = [f"### Soak, {facts['date']} ({facts['runtime']}, {facts['cpus']} CPUs, load {facts['load_start']} → "
             f"{facts['load_end']}, {facts['fs']})", ""]
    lines.append(f"{r['cycles']} serial `run -d` + `rm -f` cycles on the default bridge network: "
                 f"{r['serial']['wall_s']} s, {r['serial']['failed']} failed. "
                 f"{r['rounds']} rounds of {r['parallel']} parallel `run -d` then `rm -f` "
                 f"({r['workers']} threads): {r['parallel_phase']['wall_s']} s, "
                 f"{r['parallel_phase']['failed']} failed.")
    lines.append("")
    lines.append("| sample | time (s) | RSS (MiB) | PSS (MiB) | fds | threads |")
    lines.append("|---|---:|---:|---:|---:|---:|")
    for x in s:
        lines.append(f"| {x['at']} | {x['t']} | {x['rss_kib'] / 1024:.1f} | {x['pss_kib'] / 1024:.1f} | "
                     f"{x['fds']} | {x['threads']} |")
    lines.append("")
    g = r["growth"]
    lines.append(f"Growth, serial (after warm-up → last cycle): {g['serial']}; parallel (round 1 → last round): "
                 f"{g['parallel']}; idle start → settled end: {g['overall']}.")
    lines.append(f"Leftovers: {r['leftovers']}.")
    return "\n".join(lines) + "\n"


def main():
    global T0
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runtime", default="runc")
    ap.add_argument("--cycles", type=int, default=2000)
    ap.add_argument("--every", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--parallel", type=int, default=100)
    ap.add_argument("--workers", type=int, default=100)
    ap.add_argument("--round-settle", type=float, default=2.0)
    ap.add_argument("--settle", type=float, default=15.0)
    ap.add_argument("--bridge", default="isoak0")
    ap.add_argument("--bip", default="10.231.0.1/16")
    ap.add_argument("--bindir", default="target/release")
    ap.add_argument("--tmp", default=None)
    ap.add_argument("--out", default="bench/SOAK-RESULTS.md")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root")
    if os.path.exists(f"/sys/class/net/{args.bridge}"):
        sys.exit(f"bridge {args.bridge} exists already: pick another --bridge")
    args.bindir = os.path.abspath(args.bindir)
    Procs.start_reaper()
    tmp = tempfile.mkdtemp(prefix="isula-soak-", dir=args.tmp)

    def on_signal(sig, _frame):
        raise KeyboardInterrupt(f"signal {sig}")

    for sg in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sg, on_signal)
    facts = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
             "cpus": os.cpu_count(), "runtime": args.runtime, "fs": "host filesystem",
             "load_start": " ".join(open("/proc/loadavg").read().split()[:3])}
    archive = os.path.join(tmp, "busybox.tar")
    ptcr.docker_archive(ptcr.rootfs_layer(), archive)
    e = scale.ScaleIsula(tmp, args.bindir, args.runtime, archive, [])
    e.daemon_flags = ["--bridge", args.bridge, "--bip", args.bip]
    before_veths = veths()
    T0 = time.perf_counter()
    try:
        e.setup()
        # Warm up the default network and the image once, then take the idle baseline.
        e.run_d("soakwarm")
        e.rm_f("soakwarm")
        settle(e, args.settle)
        samples = [daemon_sample(e, "idle")]
        r = {"cycles": args.cycles, "rounds": args.rounds, "parallel": args.parallel, "workers": args.workers}
        print("== serial", file=sys.stderr)
        r["serial"] = serial_phase(e, args, samples)
        settle(e, args.settle)
        samples.append(daemon_sample(e, "serial, settled"))
        n_serial = len(samples)
        print("== parallel", file=sys.stderr)
        r["parallel_phase"] = parallel_phase(e, args, samples)
        settle(e, args.settle)
        samples.append(daemon_sample(e, "end, settled"))
        r["samples"] = samples
        warm = samples[1] if len(samples) > 2 else samples[0]
        r["growth"] = {"serial": growth(warm, samples[n_serial - 2]),
                       "parallel": growth(samples[n_serial], samples[-2]),
                       "overall": growth(samples[0], samples[-1])}
        r["leftovers"] = leftovers(e, os.path.join(e.dir, "root"), before_veths)
        facts["load_end"] = " ".join(open("/proc/loadavg").read().split()[:3])
        text = report(facts, r)
        with open(args.out, "a") as f:
            f.write(text + "\n")
        with open(os.path.splitext(args.out)[0] + ".json", "a") as f:
            f.write(json.dumps({"facts": facts, "results": r}) + "\n")
        print(text)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            e.cleanup()
        except Exception as ex:  # noqa: BLE001 (clean-up goes on)
            print(f"warning: cleanup: {ex}", file=sys.stderr)
        ptcr.final_sweep(tmp)
        if os.path.exists(f"/sys/class/net/{args.bridge}"):
            subprocess.run(["ip", "link", "del", args.bridge], check=False)
        Procs.stop_reaper()


T0 = time.perf_counter()

if __name__ == "__main__":
    main()

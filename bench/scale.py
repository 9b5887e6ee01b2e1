#!/usr/bin/env python3
"""Scale benchmark: isulad with many running containers and many images.

Run as root from the repository root, after the release build:

    cargo build --release -p isulad -p isula -p isulad-shim -p isula-pause
    python3 bench/scale.py --runtimes runc,crun --containers 1000 --out bench/SCALE-RESULTS.md

Per runtime, on a private isulad (temporary root, state and socket; ptcr.py's helpers):

- idle: daemon RSS with the image loaded, `isula version` and `isula ps -a` latency;
- files and directories the engine creates per container (root + state, counted around the
  first batch of containers);
- N containers `run -d --network none` 20 at a time (`--batch`), failures counted;
- with N running: `isula ps -a`, `isula inspect NAME`, `isula version` wall time (median and
  p90 of `--reps`, interleaved so that all see the same load), daemon RSS, shim PSS per
  container;
- `isula images` with `--images` tags of the image (one row each);
- daemon restart (SIGTERM, start again): time from spawning isulad to the first answered
  `isula ps`, then every container checked running and a sample stopped/started;
- all containers removed (`rm -f`, 20 at a time): failures, daemon RSS right after and after
  a short settle against its idle RSS; leftovers (shims, mounts, container directories).

Python 3 standard library only. Timings are the wall time of the CLI process (posix_spawn to
exit) and its CPU time (user + system, from wait4), next to `/bin/true` spawned the same way.
"""

import argparse
import concurrent.futures
import datetime
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ptcr  # noqa: E402  (the shared helpers: subreaper, image, isulad driver)
from ptcr import CmdError, Procs, mem_sum, run  # noqa: E402


def stats(xs):
    xs = sorted(xs)
    if not xs:
        return {"median_ms": None, "p90_ms": None, "n": 0}
    p90 = xs[min(len(xs) - 1, int(round(0.9 * (len(xs) - 1))))]
    return {"median_ms": round(statistics.median(xs) * 1000, 2), "p90_ms": round(p90 * 1000, 2), "n": len(xs)}


def count_files(*roots):
    """Files and directories below roots, not descending into mount points (the containers'
    root filesystems)."""
    n = 0
    for r in roots:
        for top, dirs, files in os.walk(r):
            n += len(dirs) + len(files)
            dirs[:] = [d for d in dirs if not os.path.ismount(os.path.join(top, d))]
    return n


def list_files(*roots):
    out = set()
    for r in roots:
        for top, dirs, files in os.walk(r):
            for x in dirs + files:
                out.add(os.path.join(top, x))
            dirs[:] = [d for d in dirs if not os.path.ismount(os.path.join(top, d))]
    return out


def mib(kib):
    return round(kib / 1024, 1)


class ScaleIsula(ptcr.Isula):
    """ptcr's isulad driver plus restart and timing helpers."""

    def setup(self):
        os.makedirs(self.dir)
        self.start_daemon()
        time.sleep(1)
        self.idle_fresh = mem_sum(self.daemon_pids())
        self.cli("load", "-i", self.archive, timeout=300)

    def start_daemon(self):
        """Start isulad (again) on the same root; return the seconds from spawn until the first
        `isula ps` is answered. The CRI streaming server gets a free port (`0`), so that runs
        next to other daemons do not clash."""
        log = open(os.path.join(self.dir, "isulad.out"), "ab")
        cmd = [os.path.join(self.bindir, "isulad"), "-g", os.path.join(self.dir, "root"),
               "-S", os.path.join(self.dir, "state"), "-H", f"unix://{self.sock}",
               "-p", os.path.join(self.dir, "isulad.pid"), "--default-runtime", self.runtime,
               "--stream-server-port", "0", *getattr(self, "daemon_flags", []),
               "-l", "warn", "--log-file", os.path.join(self.dir, "isulad.log")]
        t0 = time.perf_counter()
        self.daemon = Procs.popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        log.close()
        deadline = t0 + 120
        while True:
            if self.daemon.poll() is not None:
                raise CmdError(f"isulad exited with {self.daemon.returncode}")
            if os.path.exists(self.sock):
                try:
                    run(self.base + ["ps", "-a", "-q"], timeout=30)
                    return time.perf_counter() - t0
                except CmdError:
                    pass
            if time.perf_counter() > deadline:
                raise CmdError("isulad did not answer within 120s")
            time.sleep(0.002)

    def out(self, *args, timeout=120):
        return run(self.base + list(args), timeout=timeout, capture=True)[1]


def spawn_timed(cmd):
    """Run cmd (output to /dev/null) with posix_spawn, much cheaper than subprocess from a
    threaded Python; return (wall seconds, CPU seconds of the child: user + system)."""
    fd = os.open("/dev/null", os.O_RDWR)
    try:
        acts = [(os.POSIX_SPAWN_DUP2, fd, 0), (os.POSIX_SPAWN_DUP2, fd, 1), (os.POSIX_SPAWN_DUP2, fd, 2)]
        with Procs.lock:  # the reaper thread must not reap it first
            t0 = time.perf_counter()
            pid = os.posix_spawn(cmd[0], cmd, os.environ, file_actions=acts)
            Procs.owned.add(pid)
        try:
            _, status, ru = os.wait4(pid, 0)
            dt = time.perf_counter() - t0
        finally:
            with Procs.lock:
                Procs.owned.discard(pid)
    finally:
        os.close(fd)
    if os.waitstatus_to_exitcode(status) != 0:
        raise CmdError(f"exit {os.waitstatus_to_exitcode(status)}: {' '.join(cmd)}")
    return dt, ru.ru_utime + ru.ru_stime


def timed_rounds(e, cmds, reps):
    """Run each command of cmds once per round, rotating the order, reps rounds, plus
    `/bin/true` (the floor: spawning a process from here); per command the wall time and the
    command's own CPU time (steadier than wall time on a loaded machine)."""
    cmds = dict(cmds)
    times = {k: [] for k in cmds}
    cpu = {k: [] for k in cmds}
    keys = list(cmds)
    floor = []
    for i in range(reps):
        order = keys[i % len(keys):] + keys[:i % len(keys)]
        floor.append(spawn_timed(["/bin/true"])[0])
        for k in order:
            w, c = spawn_timed(e.base + cmds[k])
            times[k].append(w)
            cpu[k].append(c)
    out = {k: dict(stats(v), cpu_ms=stats(cpu[k])["median_ms"]) for k, v in times.items()}
    out["true"] = stats(floor)
    return out


def parallel(fn, items, workers):
    failures = []
    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        futs = {pool.submit(fn, it): it for it in items}
        for f in concurrent.futures.as_completed(futs):
            try:
                f.result()
            except Exception as ex:  # noqa: BLE001 (counted and reported)
                failures.append(f"{futs[f]}: {str(ex)[:200]}")
    return time.perf_counter() - t0, failures


def mounts_under(path):
    n = 0
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4]
            if mp.startswith(path + "/"):
                n += 1
    return n


def bench_runtime(args, work, archive, runtime):
    r = {"runtime": runtime, "containers": args.containers}
    e = ScaleIsula(work, args.bindir, runtime, archive, ["--network", "none"])
    e.dir = os.path.join(work, f"isula-{runtime}")
    e.sock = os.path.join(e.dir, "isulad.sock")
    e.base = [os.path.join(args.bindir, "isula"), "-H", f"unix://{e.sock}"]
    names = [f"s{runtime}{i}" for i in range(args.containers)]
    try:
        e.setup()
        time.sleep(1)
        r["idle_rss_kib"] = mem_sum(e.daemon_pids())["rss_kib"]
        r["idle"] = timed_rounds(e, {"version": ["version"], "ps": ["ps", "-a"]}, args.reps)
        root, state = os.path.join(e.dir, "root"), os.path.join(e.dir, "state")

        def up(n):
            e.touched.add(n)
            run(e.base + ["run", "-d", "--name", n, "--network", "none", ptcr.IMAGE, "sleep", "100000"],
                timeout=300)

        # Files per container: around the first batch.
        before = list_files(root, state)
        _, fails = parallel(up, names[:args.batch], args.batch)
        new = list_files(root, state) - before
        r["files_per_container"] = round(len(new) / args.batch, 1)
        # The shapes of the new paths (ids replaced), to see what a container costs.
        shapes = {}
        for p in new:
            k = re.sub(r"[0-9a-f]{64}", "ID", p.replace(e.dir, ""))
            k = re.sub(r"[0-9a-f]{12,}", "HEX", k)
            shapes[k] = shapes.get(k, 0) + 1
        r["file_shapes"] = sorted(shapes.items())
        t, more = parallel(up, names[args.batch:], args.batch)
        fails += more
        r["start_all_s"] = round(t, 1)
        r["start_failures"] = fails
        print(f"{runtime}: {args.containers} started in {t:.1f}s, {len(fails)} failures", file=sys.stderr)
        running = e.out("ps", "-q").split()
        r["running"] = len(running)
        time.sleep(2)
        r["loaded_rss_kib"] = mem_sum(e.daemon_pids())["rss_kib"]
        shims = mem_sum(e.shim_pids())
        r["shim_pss_kib_per"] = round(shims["pss_kib"] / max(1, shims["count"]), 1)
        r["shims"] = shims["count"]
        # 1000 image rows: tags of the one image.
        for i in range(args.images):
            run(e.base + ["tag", ptcr.IMAGE, f"scale/img{i}:latest"], timeout=60)
        mid = names[len(names) // 2]
        r["loaded"] = timed_rounds(e, {"version": ["version"], "ps": ["ps", "-a"], "inspect": ["inspect", mid],
                                       "images": ["images"]}, args.reps)
        r["ps_lines"] = len(e.out("ps", "-a").splitlines()) - 1
        r["images_lines"] = len(e.out("images").splitlines()) - 1
        # Restart with everything running.
        e.stop_daemon()
        restart = []
        for _ in range(args.restarts):
            restart.append(e.start_daemon())
            if len(restart) < args.restarts:
                time.sleep(1)
                e.stop_daemon()
        r["restart_s"] = [round(x, 3) for x in restart]
        if args.perf_restart:
            # One more restart under a system-wide `perf record -g` (not among the timed ones).
            time.sleep(1)
            e.stop_daemon()
            perf = subprocess.Popen(["perf", "record", "-a", "-g", "-F", "4999", "-o",
                                     f"{args.perf_restart}.{runtime}"], stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1)
            r["restart_profiled_s"] = round(e.start_daemon(), 3)
            perf.send_signal(signal.SIGINT)
            perf.wait(timeout=60)
        after = e.out("ps", "-q").split()
        r["running_after_restart"] = len(after)
        sample = names[:: max(1, len(names) // 5)][:5]
        manageable = 0
        for n in sample:
            try:
                run(e.base + ["stop", "-t", "0", n], timeout=60)
                run(e.base + ["start", n], timeout=60)
                manageable += 1
            except CmdError as ex:
                print(f"warning: {n}: {ex}", file=sys.stderr)
        r["sample_manageable"] = f"{manageable}/{len(sample)}"
        time.sleep(2)
        r["restarted_rss_kib"] = mem_sum(e.daemon_pids())["rss_kib"]
        # Remove them all.
        for i in range(args.images):
            run(e.base + ["rmi", f"scale/img{i}:latest"], timeout=60)

        def down(n):
            run(e.base + ["rm", "-f", n], timeout=300)
            e.touched.discard(n)

        t, fails = parallel(down, names, args.batch)
        r["remove_all_s"] = round(t, 1)
        r["remove_failures"] = fails
        r["removed_rss_kib"] = mem_sum(e.daemon_pids())["rss_kib"]
        time.sleep(args.settle)
        r["settled_rss_kib"] = mem_sum(e.daemon_pids())["rss_kib"]
        r["left_containers"] = len(e.out("ps", "-a", "-q").split())
        r["left_shims"] = len(e.shim_pids())
        r["left_mounts"] = mounts_under(root)
        r["left_container_dirs"] = len(os.listdir(os.path.join(root, "containers")))
        r["after_remove"] = timed_rounds(e, {"version": ["version"], "ps": ["ps", "-a"]}, args.reps)
    except (CmdError, OSError) as ex:
        traceback.print_exc()
        r["error"] = str(ex)[:600]
    finally:
        e.cleanup()
    return r


def report(facts, results, args):
    L = [f"### Scale run {facts['date']}\n",
         f"Machine: {facts['cpus']} CPUs, {facts['kernel']}; load average at start {facts['load_start']}, "
         f"at end {facts['load_end']}. {args.containers} containers (`run -d --network none`, {args.batch} at a "
         f"time), {args.images} image tags, {args.reps} interleaved rounds per latency, release binaries "
         f"from `{args.bindir}`, filesystem: {facts['fs']}.\n",
         "| | " + " | ".join(r["runtime"] for r in results) + " |",
         "|---|" + "---|" * len(results)]

    def row(label, f):
        vals = []
        for r in results:
            try:
                vals.append(str(f(r)))
            except (KeyError, TypeError, IndexError):
                vals.append("—")
        L.append(f"| {label} | " + " | ".join(vals) + " |")

    def lat(sec, k):
        return lambda r: (f"{r[sec][k]['median_ms']} (p90 {r[sec][k]['p90_ms']}, CPU {r[sec][k]['cpu_ms']})")

    row("idle daemon RSS (MiB)", lambda r: mib(r["idle_rss_kib"]))
    row("idle `isula version` ms", lat("idle", "version"))
    row("idle `isula ps -a` ms", lat("idle", "ps"))
    row("idle `/bin/true` ms (spawn floor)", lambda r: r["idle"]["true"]["median_ms"])
    row("files+dirs per container", lambda r: r["files_per_container"])
    row("start all (s), failures", lambda r: f"{r['start_all_s']}, {len(r['start_failures'])}")
    row("running / shims", lambda r: f"{r['running']} / {r['shims']}")
    row("`isula ps -a` ms (rows)", lambda r: f"{lat('loaded', 'ps')(r)} ({r['ps_lines']})")
    row("`isula inspect` ms", lat("loaded", "inspect"))
    row("`isula images` ms (rows)", lambda r: f"{lat('loaded', 'images')(r)} ({r['images_lines']})")
    row("`isula version` ms", lat("loaded", "version"))
    row("`/bin/true` ms (spawn floor)", lambda r: r["loaded"]["true"]["median_ms"])
    row("daemon RSS with all running (MiB)", lambda r: mib(r["loaded_rss_kib"]))
    row("shim PSS per container (MiB)", lambda r: round(r["shim_pss_kib_per"] / 1024, 2))
    row("restart to first `ps` (ms)", lambda r: ", ".join(str(round(x * 1000)) for x in r["restart_s"]))
    row("running after restart; sample stop+start", lambda r: f"{r['running_after_restart']}; "
        f"{r['sample_manageable']}")
    row("daemon RSS after restart (MiB)", lambda r: mib(r["restarted_rss_kib"]))
    row("remove all (s), failures", lambda r: f"{r['remove_all_s']}, {len(r['remove_failures'])}")
    row(f"daemon RSS removed / after {args.settle}s (MiB)",
        lambda r: f"{mib(r['removed_rss_kib'])} / {mib(r['settled_rss_kib'])}")
    row("settled RSS / idle RSS", lambda r: round(r["settled_rss_kib"] / r["idle_rss_kib"], 2))
    row("left: containers, shims, mounts, dirs", lambda r: f"{r['left_containers']}, {r['left_shims']}, "
        f"{r['left_mounts']}, {r['left_container_dirs']}")
    for r in results:
        if r.get("error"):
            L.append(f"\n{r['runtime']}: error: {r['error']}")
        for k in ("start_failures", "remove_failures"):
            for f in r.get(k, [])[:5]:
                L.append(f"\n{r['runtime']} {k}: {f}")
    return "\n".join(L) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runtimes", default="runc,crun")
    ap.add_argument("--containers", type=int, default=1000)
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=20)
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--restarts", type=int, default=3)
    ap.add_argument("--perf-restart", default=None, metavar="PATH",
                    help="after the timed restarts, one more under `perf record -a -g`, "
                         "written to PATH.RUNTIME (for `perf report -i`)")
    ap.add_argument("--settle", type=int, default=15)
    ap.add_argument("--bindir", default="target/release")
    ap.add_argument("--fs", choices=("loop", "host"), default="host")
    ap.add_argument("--tmp", default=None)
    ap.add_argument("--out", default="bench/SCALE-RESULTS.md")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root")
    args.bindir = os.path.abspath(args.bindir)
    Procs.start_reaper()
    tmp = tempfile.mkdtemp(prefix="isula-scale-", dir=args.tmp)

    def on_signal(sig, _frame):
        raise KeyboardInterrupt(f"signal {sig}")

    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)
    facts = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
             "cpus": os.cpu_count(), "kernel": os.uname().release,
             "load_start": " ".join(open("/proc/loadavg").read().split()[:3]), "fs": args.fs}
    results = []
    try:
        work = ptcr.bench_fs(tmp, 16) if args.fs == "loop" else tmp
        if args.fs == "loop":
            facts["fs"] = "fresh ext4 (journal) on a loop device"
        else:
            facts["fs"] = "host filesystem"
        archive = os.path.join(work, "busybox.tar")
        ptcr.docker_archive(ptcr.rootfs_layer(), archive)
        for rt in args.runtimes.split(","):
            print(f"== isula ({rt})", file=sys.stderr)
            results.append(bench_runtime(args, work, archive, rt))
        facts["load_end"] = " ".join(open("/proc/loadavg").read().split()[:3])
        text = report(facts, results, args)
        with open(args.out, "a") as f:
            f.write(text + "\n")
        with open(os.path.splitext(args.out)[0] + ".json", "a") as f:
            import json
            f.write(json.dumps({"facts": facts, "results": results}) + "\n")
        print(text)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        ptcr.final_sweep(tmp)
        Procs.stop_reaper()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Image throughput: pull from a local registry (isula vs containerd's ctr vs podman) and
load of docker-archives (isula vs podman), on the host filesystem and on a fresh journaled
ext4 on a loop device. Figures go to stdout and, with --out, into an "Images" section of
bench/RESULTS.md (other sections are kept).

Run as root from the repository root after
`cargo build --release -p isulad -p isula -p isulad-shim -p isula-pause`:

    python3 bench/images.py --out bench/RESULTS.md

Every engine works on its own fresh root (and state, socket) for every timed operation;
daemons (isulad, containerd) are started before and stopped after each one, outside the
timing. The registry is Debian's docker-registry on 127.0.0.1 (plain http), its storage
on the host filesystem; the image is pushed once with skopeo. Engines run interleaved
(the order rotates each round) and each figure is the median of --rounds.

The pull image: 4 layers of pseudo-random (incompressible) files, ~26 MB each, gzip
(level 1), ~106 MB compressed. Load: the same image as a docker-archive with uncompressed
layers (as `docker save` writes them), and 100 small images (a shared ~1 MB base layer
plus a one-file layer each), loaded one archive per CLI call.
"""

import argparse
import datetime
import gzip
import hashlib
import io
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ptcr  # noqa: E402  (subreaper, process helpers, loop filesystem)
from ptcr import Procs, CmdError, run, kill_pid, bench_fs  # noqa: E402

MiB = 1 << 20


# ----------------------------------------------------------------------------------------
# Images, written by this script (no network).
# ----------------------------------------------------------------------------------------

def pseudo_random(n, seed):
    r = random.Random(seed)
    return r.randbytes(n)


def layer_tar(files, dirs=()):
    """An uncompressed, deterministic tar of {name: bytes} (+ directories)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for d in dirs:
            ti = tarfile.TarInfo(d)
            ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, 0o755, 0
            tar.addfile(ti)
        for name, data in files:
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode, ti.mtime = len(data), 0o644, 0
            tar.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def big_layers(total=100 * MiB, n=4, file_size=4 * MiB):
    out = []
    for i in range(n):
        share = total // n
        files, j = [], 0
        while share > 0:
            k = min(share, file_size)
            files.append((f"data/layer{i}/file{j}", pseudo_random(k, (i << 32) | j)))
            share -= k
            j += 1
        out.append(layer_tar(files, dirs=("data", f"data/layer{i}")))
    return out


def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def config_json(diff_ids, label):
    return json.dumps({
        "architecture": "amd64", "os": "linux", "created": "2026-01-01T00:00:00Z",
        "config": {"Cmd": ["/bin/sh"], "Labels": {"bench": label}},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": "2026-01-01T00:00:00Z", "created_by": "bench"} for _ in diff_ids],
    }, sort_keys=True).encode()


def write_oci_layout(d, tars, tag):
    """OCI layout dir with gzip (level 1) layers; returns the compressed size."""
    os.makedirs(os.path.join(d, "blobs", "sha256"))

    def put(data):
        dg = sha(data)
        with open(os.path.join(d, "blobs", "sha256", dg[7:]), "wb") as f:
            f.write(data)
        return dg

    layers = []
    for t in tars:
        gz = gzip.compress(t, compresslevel=1, mtime=0)
        layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": put(gz), "size": len(gz)})
    cfg = config_json([sha(t) for t in tars], tag)
    m = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": put(cfg),
                               "size": len(cfg)},
                    "layers": layers}).encode()
    md = put(m)
    with open(os.path.join(d, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                                                      "digest": md, "size": len(m),
                                                      "annotations": {"org.opencontainers.image.ref.name": tag}}]}, f)
    with open(os.path.join(d, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    return sum(l["size"] for l in layers) + len(cfg)


def write_docker_archive(path, tars, repo_tag):
    """docker-archive (legacy layout, uncompressed layers, as `docker save`)."""
    cfg = config_json([sha(t) for t in tars], repo_tag)
    cfg_name = sha(cfg)[7:] + ".json"
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        def add(name, data):
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode, ti.mtime = len(data), 0o644, 0
            tar.addfile(ti, io.BytesIO(data))
        names = []
        for t in tars:
            n = sha(t)[7:] + "/layer.tar"
            add(n, t)
            names.append(n)
        add(cfg_name, cfg)
        add("manifest.json", json.dumps([{"Config": cfg_name, "RepoTags": [repo_tag], "Layers": names}]).encode())


# ----------------------------------------------------------------------------------------
# Registry and engines.
# ----------------------------------------------------------------------------------------

def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_for(cond, what, secs=60, proc=None):
    deadline = time.time() + secs
    while not cond():
        if proc is not None and proc.poll() is not None:
            raise CmdError(f"{what}: exited with {proc.returncode}")
        if time.time() > deadline:
            raise CmdError(f"{what}: not ready after {secs}s")
        time.sleep(0.02)


def stop(p, name):
    if p is None or p.poll() is not None:
        return
    kill_pid(p.pid, signal.SIGTERM)
    try:
        p.wait(30)
    except subprocess.TimeoutExpired:
        print(f"warning: {name} ignored SIGTERM; SIGKILL", file=sys.stderr)
        kill_pid(p.pid)
        p.wait()
    Procs.release(p)


class Registry:
    def __init__(self, tmp):
        self.dir = os.path.join(tmp, "registry")
        os.makedirs(self.dir)
        self.addr = f"127.0.0.1:{free_port()}"
        cfg = os.path.join(self.dir, "config.yml")
        with open(cfg, "w") as f:
            f.write(f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {self.dir}/data\n"
                    f"  delete:\n    enabled: true\nhttp:\n  addr: {self.addr}\n")
        log = open(os.path.join(self.dir, "log"), "wb")
        self.p = Procs.popen(["docker-registry", "serve", cfg], stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        log.close()

        def up():
            try:
                import urllib.request
                urllib.request.urlopen(f"http://{self.addr}/v2/", timeout=1)
                return True
            except Exception:
                return False
        wait_for(up, "docker-registry", proc=self.p)

    def close(self):
        stop(self.p, "docker-registry")


def sync():
    os.sync()


class IsulaD:
    """A fresh isulad (release build) on dir/root, dir/state, dir/isulad.sock."""

    name = "isula"

    def __init__(self, bindir, registry):
        self.bindir, self.registry = bindir, registry
        self.p = None

    def start(self, d):
        self.dir = d
        os.makedirs(d)
        self.sock = os.path.join(d, "isulad.sock")
        log = open(os.path.join(d, "isulad.out"), "wb")
        cmd = [os.path.join(self.bindir, "isulad"), "-g", os.path.join(d, "root"), "-S", os.path.join(d, "state"),
               "-H", f"unix://{self.sock}", "-p", os.path.join(d, "isulad.pid"), "-l", "warn",
               "--log-file", os.path.join(d, "isulad.log"), "--insecure-registry", self.registry]
        self.p = Procs.popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        log.close()
        wait_for(lambda: os.path.exists(self.sock), "isulad", proc=self.p)
        run(self.cli("version"), timeout=30)

    def cli(self, *args):
        return [os.path.join(self.bindir, "isula"), "-H", f"unix://{self.sock}", *args]

    def pull(self, ref):
        return self.cli("pull", ref)

    def load(self, path):
        return self.cli("load", "-i", path)

    def stop(self):
        stop(self.p, "isulad")
        self.p = None


class Containerd:
    name = "ctr"

    def __init__(self):
        self.p = None

    def start(self, d):
        self.dir = d
        os.makedirs(d)
        self.sock = os.path.join(d, "containerd.sock")
        cfg = os.path.join(d, "config.toml")
        with open(cfg, "w") as f:
            f.write(f'version = 2\nroot = "{d}/root"\nstate = "{d}/state"\n'
                    f'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
                    f'[grpc]\n  address = "{self.sock}"\n[ttrpc]\n  address = "{self.sock}.ttrpc"\n'
                    f'[debug]\n  address = ""\n[metrics]\n  address = ""\n')
        log = open(os.path.join(d, "containerd.out"), "wb")
        self.p = Procs.popen(["containerd", "--config", cfg, "--log-level", "error"], stdin=subprocess.DEVNULL,
                             stdout=log, stderr=log)
        log.close()
        wait_for(lambda: os.path.exists(self.sock), "containerd", proc=self.p)
        run(["ctr", "-a", self.sock, "version"], timeout=30)

    def pull(self, ref):
        return ["ctr", "-a", self.sock, "-n", "bench", "images", "pull", "--plain-http", ref]

    def stop(self):
        stop(self.p, "containerd")
        self.p = None
        for m in reversed(mounts_under(self.dir)):
            subprocess.run(["umount", "-l", m], check=False)


class Podman:
    name = "podman"

    def start(self, d):
        self.dir = d
        os.makedirs(d)
        # podman refuses a runroot longer than 50 characters.
        self.run = tempfile.mkdtemp(prefix="ibp-", dir="/run")

    def base(self):
        return ["podman", "--root", os.path.join(self.dir, "root"), "--runroot", self.run,
                "--storage-driver", "overlay", "--cgroup-manager", "cgroupfs", "--events-backend", "none",
                "--tmpdir", os.path.join(self.dir, "tmp")]

    def pull(self, ref):
        return self.base() + ["pull", "--quiet", "--tls-verify=false", ref]

    def load(self, path):
        return self.base() + ["load", "--quiet", "-i", path]

    def stop(self):
        subprocess.run(self.base() + ["system", "reset", "--force"], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        for m in reversed(mounts_under(self.dir) + mounts_under(self.run)):
            subprocess.run(["umount", "-l", m], check=False)
        shutil.rmtree(self.run, ignore_errors=True)


def mounts_under(d):
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4]
            if mp.startswith(d.rstrip("/") + "/"):
                out.append(mp)
    return out


def timed(cmd, timeout=600):
    t0 = time.perf_counter()
    run(cmd, timeout=timeout)
    return time.perf_counter() - t0


def med(xs):
    return statistics.median(xs) if xs else None


# ----------------------------------------------------------------------------------------

def measure(fs_name, work, engines, ref, big_archive, small_archives, rounds, small_rounds):
    res = {}
    n = 0
    for r in range(rounds):
        before = {k: len(v) for k, v in res.items()}
        order = engines[r % len(engines):] + engines[:r % len(engines)]
        for e in order:
            # Pull.
            d = os.path.join(work, f"{e.name}-pull-{n}")
            n += 1
            e.start(d)
            try:
                sync()
                res.setdefault(("pull", e.name), []).append(timed(e.pull(ref)))
            finally:
                e.stop()
                shutil.rmtree(d, ignore_errors=True)
            if not hasattr(e, "load"):
                continue
            # Load of the big archive.
            d = os.path.join(work, f"{e.name}-load-{n}")
            n += 1
            e.start(d)
            try:
                sync()
                res.setdefault(("load big", e.name), []).append(timed(e.load(big_archive)))
                if r < small_rounds:
                    sync()
                    t0 = time.perf_counter()
                    for a in small_archives:
                        run(e.load(a), timeout=300)
                    res.setdefault(("load 100 small", e.name), []).append(time.perf_counter() - t0)
            finally:
                e.stop()
                shutil.rmtree(d, ignore_errors=True)
        print(f"[{fs_name}] round {r + 1}/{rounds}: " + ", ".join(
            f"{k[0]} {k[1]} {v[-1]:.2f}s" for k, v in sorted(res.items()) if len(v) > before.get(k, 0)), flush=True)
    return res


def report(all_res, pull_bytes, big_bytes, facts, rounds, small_rounds):
    lines = ["## Images (pull and load throughput)", ""]
    lines.append(f"Measured {facts['date']} by `python3 bench/images.py` on {facts['cpus']} CPUs; load average "
                 f"before: {' '.join(facts['load_before'])}, after: {' '.join(facts['load_after'])} (more than the CPU count "
                 f"means other work shared the machine and the figures are noisy). Median of {rounds} rounds (100 small images: "
                 f"{small_rounds}), engines interleaved. Pull: the ~{pull_bytes / 1e6:.0f} MB 4-layer gzip image "
                 f"from docker-registry on 127.0.0.1, unpacked (MB/s = compressed bytes / wall time). Load: "
                 f"a docker-archive of the same image ({big_bytes / 1e6:.0f} MB, uncompressed layers) and 100 small "
                 "docker-archives, one CLI call each. Versions: " + facts["versions"] + ".")
    lines.append("")
    for fs_name, res in all_res.items():
        lines.append(f"### {fs_name}")
        lines.append("")
        lines.append("| operation | isula | ctr (containerd) | podman | isula vs best peer |")
        lines.append("|---|---|---|---|---|")
        for op in ("pull", "load big", "load 100 small"):
            cells, vals = [], {}
            for eng in ("isula", "ctr", "podman"):
                xs = res.get((op, eng))
                if not xs:
                    cells.append("–")
                    continue
                m = med(xs)
                vals[eng] = m
                extra = f" ({pull_bytes / 1e6 / m:.0f} MB/s)" if op == "pull" else ""
                cells.append(f"{m:.2f} s{extra}")
            peers = [v for k, v in vals.items() if k != "isula"]
            ratio = f"{min(peers) / vals['isula']:.2f}× faster" if peers and "isula" in vals else "–"
            lines.append(f"| {op} | " + " | ".join(cells) + f" | {ratio} |")
        lines.append("")
    return "\n".join(lines) + "\n"


def put_section(path, section):
    text = open(path).read() if os.path.exists(path) else ""
    head = "## Images (pull and load throughput)"
    if head in text:
        start = text.index(head)
        nxt = text.find("\n## ", start + len(head))
        text = text[:start] + section + (text[nxt + 1:] if nxt >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    with open(path, "w") as f:
        f.write(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bindir", default="target/release")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--small-rounds", type=int, default=1, help="rounds of the 100 small loads")
    ap.add_argument("--engines", default="isula,ctr,podman")
    ap.add_argument("--fs", default="host,loop", help="host, loop or both")
    ap.add_argument("--tmp", default="/var/tmp")
    ap.add_argument("--out", help="RESULTS.md to put the Images section in")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root")
    Procs.start_reaper()
    tmp = tempfile.mkdtemp(prefix="isula-images-bench-", dir=args.tmp)
    reg = None
    loop_mnt = None
    try:
        facts = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                 "cpus": os.cpu_count(), "load_before": open("/proc/loadavg").read().split()[:3]}
        print("writing images ...", flush=True)
        tars = big_layers()
        oci = os.path.join(tmp, "oci")
        pull_bytes = write_oci_layout(oci, tars, "1")
        big = os.path.join(tmp, "big.tar")
        write_docker_archive(big, tars, "bench/big:1")
        big_bytes = os.path.getsize(big)
        base = layer_tar([(f"bin/tool{i}", pseudo_random(64 * 1024, 1000 + i)) for i in range(16)], dirs=("bin",))
        smalls = []
        for i in range(100):
            p = os.path.join(tmp, f"small{i}.tar")
            write_docker_archive(p, [base, layer_tar([("id", f"{i}\n".encode())])], f"small/img{i}:v1")
            smalls.append(p)
        del tars
        reg = Registry(tmp)
        ref = f"{reg.addr}/bench/img:1"
        run(["skopeo", "copy", "--quiet", "--dest-tls-verify=false", f"oci:{oci}:1", f"docker://{ref}"], timeout=300)
        want = args.engines.split(",")
        engines = []
        if "isula" in want:
            engines.append(IsulaD(os.path.abspath(args.bindir), reg.addr))
        if "ctr" in want and shutil.which("containerd") and shutil.which("ctr"):
            engines.append(Containerd())
        if "podman" in want and shutil.which("podman"):
            engines.append(Podman())
        versions = []
        for cmd in (["containerd", "--version"], ["podman", "--version"], ["docker-registry", "--version"]):
            if shutil.which(cmd[0]):
                versions.append(subprocess.run(cmd, capture_output=True, text=True).stdout.strip())
        facts["versions"] = "; ".join(versions)
        all_res = {}
        for fs in args.fs.split(","):
            if fs == "host":
                work = os.path.join(tmp, "host")
                os.makedirs(work)
                all_res[f"host filesystem ({args.tmp})"] = measure("host", work, engines, ref, big, smalls,
                                                                   args.rounds, args.small_rounds)
            elif fs == "loop":
                loop_mnt = bench_fs(tmp)
                all_res["fresh journaled ext4 on a loop device"] = measure("loop", loop_mnt, engines, ref, big,
                                                                           smalls, args.rounds, args.small_rounds)
        facts["load_after"] = open("/proc/loadavg").read().split()[:3]
        text = report(all_res, pull_bytes, big_bytes, facts, args.rounds, args.small_rounds)
        print(text)
        if args.out:
            put_section(args.out, text)
    finally:
        if reg:
            reg.close()
        if loop_mnt:
            subprocess.run(["umount", loop_mnt], check=False)
        shutil.rmtree(tmp, ignore_errors=True)
        Procs.stop_reaper()


if __name__ == "__main__":
    main()

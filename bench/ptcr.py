#!/usr/bin/env python3
"""ptcr-style benchmark of isula against the bare OCI runtimes and other engines.

Modelled on iSulad's ptcr: serial latency of each lifecycle verb, many containers in
parallel, daemon and shim memory. Run as root from the repository root:

    python3 bench/ptcr.py --out bench/RESULTS.md

Python 3 standard library only. The busybox test image is built here from /bin/busybox
(a docker-archive for the engines, a plain rootfs for the bare runtimes). Everything the
run makes lives in one temporary directory and is removed at the end, even on SIGINT or
SIGTERM: containers, the isulad daemon (stopped by its PID), shims, mounts, state.
See bench/README.md for what is measured and how.
"""

import argparse
import concurrent.futures
import ctypes
import datetime
import hashlib
import io
import json
import math
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import traceback

PR_SET_CHILD_SUBREAPER = 36
MNT_DETACH = 2
IMAGE = "busybox:latest"
LIBC = ctypes.CDLL(None, use_errno=True)


# --------------------------------------------------------------------------------------
# Processes: we are a subreaper (PID 1 here reaps orphans only after seconds), so every
# orphan (container inits of bare runtimes, double-forked shims, conmon) is reparented to
# us and must be reaped. A reaper thread reaps zombie children that subprocess does not
# own; spawning holds the same lock so the reaper never steals a subprocess child.
# --------------------------------------------------------------------------------------

class Procs:
    """Spawns commands and reaps orphaned zombies reparented to this subreaper."""

    lock = threading.Lock()
    owned = set()
    _stop = threading.Event()
    _thread = None

    @classmethod
    def start_reaper(cls):
        if LIBC.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")
        cls._thread = threading.Thread(target=cls._loop, name="reaper", daemon=True)
        cls._thread.start()

    @classmethod
    def stop_reaper(cls):
        cls._stop.set()
        if cls._thread:
            cls._thread.join(2)
        cls.reap_orphans()

    @classmethod
    def children(cls):
        pids = set()
        for tid in os.listdir("/proc/self/task"):
            try:
                with open(f"/proc/self/task/{tid}/children") as f:
                    pids.update(int(p) for p in f.read().split())
            except OSError:
                pass
        return pids

    @classmethod
    def reap_orphans(cls):
        with cls.lock:
            for pid in cls.children() - cls.owned:
                if proc_state(pid) == "Z":
                    try:
                        os.waitpid(pid, os.WNOHANG)
                    except ChildProcessError:
                        pass

    @classmethod
    def _loop(cls):
        while not cls._stop.wait(0.05):
            cls.reap_orphans()

    @classmethod
    def popen(cls, cmd, **kw):
        with cls.lock:
            p = subprocess.Popen(cmd, **kw)
            cls.owned.add(p.pid)
        return p

    @classmethod
    def release(cls, p):
        with cls.lock:
            cls.owned.discard(p.pid)


class CmdError(Exception):
    pass


def run(cmd, timeout=120, check=True, capture=False):
    """Run cmd; return (seconds, stdout). stdin is /dev/null; stdout and stderr go to
    files, never pipes: a detached container inheriting a pipe would block the read."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        p = Procs.popen(cmd, stdin=subprocess.DEVNULL, stdout=out if capture else subprocess.DEVNULL,
                        stderr=err)
        # A blocking wait with a watchdog, not Popen.wait(timeout): that one polls with sleeps
        # growing to 50 ms, which rounds every measured latency up to the next poll.
        expired = threading.Event()

        def watchdog():
            expired.set()
            p.kill()

        timer = threading.Timer(timeout, watchdog)
        timer.start()
        try:
            rc = p.wait()
            timer.cancel()
            if expired.is_set():
                Procs.release(p)
                raise CmdError(f"timed out after {timeout}s: {' '.join(cmd)}")
        except CmdError:
            raise
        except BaseException:  # interrupted: do not leave the command running
            timer.cancel()
            p.kill()
            p.wait()
            Procs.release(p)
            raise
        dt = time.perf_counter() - t0
        Procs.release(p)
        out.seek(0)
        err.seek(0)
        so = out.read().decode(errors="replace")
        se = err.read().decode(errors="replace").strip()
    if check and rc != 0:
        raise CmdError(f"exit {rc}: {' '.join(cmd)}: {se[-800:]}")
    return dt, so


def output(cmd, timeout=60):
    try:
        return run(cmd, timeout=timeout, capture=True)[1].strip()
    except (CmdError, OSError) as e:
        return f"unavailable ({str(e)[:80]})"


def proc_state(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def alive(pid):
    s = proc_state(pid)
    return s is not None and s != "Z" and s != "X"


def all_pids():
    return [int(d) for d in os.listdir("/proc") if d.isdigit()]


def readlink(path):
    try:
        return os.readlink(path)
    except OSError:
        return ""


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def memory(pid):
    """(RSS, PSS) in KiB of one process from /proc/PID/smaps_rollup, or None if gone."""
    vals = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3 and parts[0] in ("Rss:", "Pss:"):
                    vals[parts[0][:-1]] = int(parts[1])
    except OSError:
        return None
    return vals.get("Rss", 0), vals.get("Pss", 0)


def mem_sum(pids):
    rss = pss = n = 0
    for pid in pids:
        m = memory(pid)
        if m:
            rss += m[0]
            pss += m[1]
            n += 1
    return {"count": n, "rss_kib": rss, "pss_kib": pss}


def kill_pid(pid, sig=signal.SIGKILL):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def unmount_under(root):
    """Lazily unmount everything mounted at or below root, deepest first."""
    mounts = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4].encode().decode("unicode_escape")
            if mp == root or mp.startswith(root + "/"):
                mounts.append(mp)
    for mp in sorted(set(mounts), key=len, reverse=True):
        if LIBC.umount2(mp.encode(), MNT_DETACH) != 0:
            print(f"warning: umount {mp}: {os.strerror(ctypes.get_errno())}", file=sys.stderr)


def bench_fs(tmp, size_gib=8):
    """A fresh ext4 filesystem (mkfs.ext4 defaults, so with a journal) on a sparse file under
    tmp, loop-mounted at tmp/fs: every engine works on the same new filesystem, so the figures
    do not depend on the host disk's history. (On the VMs this was written on, the root ext4
    has no journal; there, creating a file in a block group with many inodes deleted in the
    last minutes costs up to ~1 ms of CPU, and the cost varies from run to run.)"""
    img, mnt = os.path.join(tmp, "fs.img"), os.path.join(tmp, "fs")
    with open(img, "wb") as f:
        f.truncate(size_gib << 30)
    run(["mkfs.ext4", "-q", "-F", img], timeout=120)
    os.makedirs(mnt)
    run(["mount", "-o", "loop", img, mnt], timeout=60)
    return mnt


# --------------------------------------------------------------------------------------
# The busybox image: a rootfs tree and a docker-archive (legacy layout) holding it.
# --------------------------------------------------------------------------------------

def rootfs_layer(busybox="/bin/busybox"):
    """An uncompressed, deterministic layer tar: busybox plus one symlink per applet."""
    applets = run([busybox, "--list"], capture=True)[1].split()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        def add_dir(name, mode=0o755):
            ti = tarfile.TarInfo(name)
            ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, mode, 0
            tar.addfile(ti)

        def add_file(name, data, mode=0o644):
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode, ti.mtime = len(data), mode, 0
            tar.addfile(ti, io.BytesIO(data))

        for d in ("bin", "dev", "etc", "proc", "sys", "tmp", "root", "var", "usr", "usr/bin"):
            add_dir(d, 0o1777 if d == "tmp" else 0o755)
        with open(busybox, "rb") as f:
            add_file("bin/busybox", f.read(), 0o755)
        for a in sorted(set(applets) - {"busybox"}):
            ti = tarfile.TarInfo(f"bin/{a}")
            ti.type, ti.linkname, ti.mode, ti.mtime = tarfile.SYMTYPE, "busybox", 0o777, 0
            tar.addfile(ti)
        add_file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")
        add_file("etc/group", b"root:x:0:\nnogroup:x:65534:\n")
    return buf.getvalue()


def docker_archive(layer, path):
    """Write a docker-archive (docker save legacy layout) of one layer tagged busybox:latest."""
    diff = hashlib.sha256(layer).hexdigest()
    config = {
        "architecture": "amd64", "os": "linux", "created": "1970-01-01T00:00:00Z",
        "config": {"Cmd": ["sh"], "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{diff}"]},
        "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "ptcr.py busybox"}],
    }
    cfg = json.dumps(config, sort_keys=True).encode()
    cfg_id = hashlib.sha256(cfg).hexdigest()
    manifest = json.dumps([{"Config": f"{cfg_id}.json", "RepoTags": [IMAGE],
                            "Layers": [f"{diff}/layer.tar"]}]).encode()
    repos = json.dumps({"busybox": {"latest": diff}}).encode()
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in ((f"{diff}/layer.tar", layer), (f"{diff}/VERSION", b"1.0"),
                           (f"{diff}/json", json.dumps({"id": diff}).encode()),
                           (f"{cfg_id}.json", cfg), ("manifest.json", manifest), ("repositories", repos)):
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode, ti.mtime = len(data), 0o644, 0
            tar.addfile(ti, io.BytesIO(data))


# --------------------------------------------------------------------------------------
# Engines. Each offers the six timed verbs on a container name plus memory probes.
# --------------------------------------------------------------------------------------

class Engine:
    """Base: names of containers this run may have made, for cleanup."""
    has_daemon = False
    runtime_label = ""

    def __init__(self, name, tmp):
        self.name = name
        self.tmp = tmp
        self.touched = set()

    def version(self):
        return ""

    def setup(self):
        pass

    def prepare(self, name):
        """Untimed per-container preparation (bundles for bare runtimes)."""

    def daemon_pids(self):
        return []

    def shim_pids(self):
        return []

    def cleanup(self):
        pass


class DockerLike(Engine):
    """An engine driven by a Docker-compatible CLI: isula, podman, docker."""
    rm_f_args = ()

    def __init__(self, name, tmp, base, create_args=()):
        super().__init__(name, tmp)
        self.base = list(base)
        self.create_args = list(create_args)

    def cli(self, *args, timeout=120, check=True):
        return run(self.base + list(args), timeout=timeout, check=check)[0]

    def create(self, n):
        self.touched.add(n)
        return self.cli("create", "--name", n, *self.create_args, IMAGE, "sleep", "1000")

    def start(self, n):
        return self.cli("start", n)

    def stop(self, n):
        return self.cli("stop", "-t", "0", n)

    def rm(self, n):
        t = self.cli("rm", n)
        self.touched.discard(n)
        return t

    def run_d(self, n):
        self.touched.add(n)
        return self.cli("run", "-d", "--name", n, *self.create_args, IMAGE, "sleep", "1000")

    def rm_f(self, n):
        t = self.cli("rm", "-f", *self.rm_f_args, n)
        self.touched.discard(n)
        return t

    def remove_leftovers(self):
        for n in sorted(self.touched):
            try:
                self.cli("rm", "-f", *self.rm_f_args, n, timeout=60)
                self.touched.discard(n)
            except CmdError as e:
                print(f"warning: {self.name}: cannot remove {n}: {e}", file=sys.stderr)


class Isula(DockerLike):
    """isulad from target/release on its own root, state and socket; driven by isula."""
    has_daemon = True

    def __init__(self, tmp, bindir, runtime, archive, create_args):
        self.bindir = bindir
        self.dir = os.path.join(tmp, "isula")
        self.sock = os.path.join(self.dir, "isulad.sock")
        super().__init__(f"isula ({runtime})", tmp,
                         [os.path.join(bindir, "isula"), "-H", f"unix://{self.sock}"], create_args)
        self.runtime = runtime
        self.runtime_label = runtime
        self.archive = archive
        self.daemon = None
        self.shim = os.path.realpath(os.path.join(bindir, "isulad-shim"))
        self.idle_fresh = None

    def version(self):
        return output(self.base[:1] + ["--version"])

    def setup(self):
        os.makedirs(self.dir)
        log = open(os.path.join(self.dir, "isulad.out"), "wb")
        cmd = [os.path.join(self.bindir, "isulad"), "-g", os.path.join(self.dir, "root"),
               "-S", os.path.join(self.dir, "state"), "-H", f"unix://{self.sock}",
               "-p", os.path.join(self.dir, "isulad.pid"), "--default-runtime", self.runtime,
               "-l", "warn", "--log-file", os.path.join(self.dir, "isulad.log")]
        self.daemon = Procs.popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        log.close()
        deadline = time.time() + 60
        while True:
            if self.daemon.poll() is not None:
                raise CmdError(f"isulad exited with {self.daemon.returncode}: "
                               + open(os.path.join(self.dir, "isulad.out")).read()[-800:])
            if os.path.exists(self.sock):
                try:
                    self.cli("version", timeout=10)
                    break
                except CmdError:
                    pass
            if time.time() > deadline:
                raise CmdError("isulad did not answer within 60s")
            time.sleep(0.05)
        time.sleep(1)
        self.idle_fresh = mem_sum(self.daemon_pids())
        self.cli("load", "-i", self.archive, timeout=300)

    def daemon_pids(self):
        return [self.daemon.pid] if self.daemon and self.daemon.poll() is None else []

    def shim_pids(self):
        return [p for p in all_pids() if readlink(f"/proc/{p}/exe") == self.shim and alive(p)]

    def stop_daemon(self):
        if not self.daemon or self.daemon.poll() is not None:
            return
        kill_pid(self.daemon.pid, signal.SIGTERM)
        try:
            self.daemon.wait(30)
        except subprocess.TimeoutExpired:
            print("warning: isulad ignored SIGTERM for 30s; SIGKILL", file=sys.stderr)
            kill_pid(self.daemon.pid)
            self.daemon.wait()
        Procs.release(self.daemon)

    def cleanup(self):
        if self.daemon and self.daemon.poll() is None:
            self.remove_leftovers()
        self.stop_daemon()
        # Shims this run started (our binary, our state dir) and their containers.
        # Shims of our own build (bindir is this checkout's) that outlived the containers.
        for pid in self.shim_pids():
            print(f"warning: leftover isulad-shim pid {pid}; killing", file=sys.stderr)
            kill_pid(pid)


class Podman(DockerLike):
    """podman on its own root/runroot/tmpdir, cgroupfs, no network, the given OCI runtime."""

    def __init__(self, tmp, runtime, archive):
        self.dir = os.path.join(tmp, "podman")
        base = ["podman", "--root", os.path.join(self.dir, "root"),
                "--runroot", os.path.join(self.dir, "runroot"), "--tmpdir", os.path.join(self.dir, "tmp"),
                "--cgroup-manager", "cgroupfs", "--events-backend", "none", "--runtime", runtime,
                "--storage-driver", "overlay", "--log-level", "error"]
        super().__init__(f"podman ({runtime})", tmp, base,
                         ["--network", "none"] + ulimits())
        self.runtime_label = runtime
        self.archive = archive
        # podman's rm -f stops with the stop timeout (10 s: SIGTERM is ignored by a PID 1
        # sleep); Docker's rm -f kills at once. -t 0 gives podman Docker's semantics.
        self.rm_f_args = ("-t", "0")
        self.cgroups_before = podman_cgroups()

    def version(self):
        return output(["podman", "--version"]) + "; " + output(["conmon", "--version"]).splitlines()[0]

    def setup(self):
        os.makedirs(self.dir)
        self.cli("load", "-i", self.archive, timeout=300)

    def shim_pids(self):
        return [p for p in all_pids() if comm(p) == "conmon" and self.dir in cmdline(p) and alive(p)]

    def cleanup(self):
        self.remove_leftovers()
        for pid in self.shim_pids():
            print(f"warning: leftover conmon pid {pid}; killing", file=sys.stderr)
            kill_pid(pid)
        # podman (cgroupfs manager) leaves libpod_parent/ cgroups behind; remove the empty
        # ones that did not exist before this run.
        for d in sorted(podman_cgroups() - self.cgroups_before, key=len, reverse=True):
            try:
                os.rmdir(d)
            except OSError:
                pass


def podman_cgroups():
    """The libpod_parent cgroup directories (podman's cgroupfs parent) in every hierarchy."""
    out = set()
    for h in os.listdir("/sys/fs/cgroup"):
        top = os.path.join("/sys/fs/cgroup", h, "libpod_parent")
        for dirpath, _dirs, _files in os.walk(top):
            out.add(dirpath)
    return out


def ulimits():
    """--ulimit flags for podman: its defaults (nofile 1048576, nproc from the host) raise hard
    limits somewhere on the podman-conmon-crun chain, which fails without CAP_SYS_RESOURCE
    (as in this machine's container); pin both to modest values below ours."""
    import resource
    out = []
    for name, res, want in (("nofile", resource.RLIMIT_NOFILE, 1024), ("nproc", resource.RLIMIT_NPROC, 4096)):
        hard = resource.getrlimit(res)[1]
        v = want if hard == resource.RLIM_INFINITY else min(want, hard)
        out += ["--ulimit", f"{name}={v}:{v}"]
    return out


class Docker(DockerLike):
    """docker against an already running dockerd (the default socket); not started here."""
    has_daemon = True

    def __init__(self, tmp):
        super().__init__("docker", tmp, ["docker"], ["--network", "none"])

    def version(self):
        return output(["docker", "version", "--format", "{{.Server.Version}}"])

    def setup(self):
        self.cli("load", "-i", self.archive, timeout=300)

    def daemon_pids(self):
        return [p for p in all_pids() if comm(p) in ("dockerd", "containerd") and alive(p)]

    def shim_pids(self):
        return [p for p in all_pids() if comm(p).startswith("containerd-shim") and alive(p)]

    def cleanup(self):
        self.remove_leftovers()


SECCOMP = None  # the OCI seccomp section isula generates (set from `shimbench seccomp`)


def make_spec(rt, workdir, rootfs):
    """`RT spec` adjusted for the benchmark: no terminal, `sleep 1000`, the shared read-only
    rootfs by absolute path, and (unless --bare-no-seccomp) the same default seccomp filter
    isula gives its containers, so the bare runtimes do the same work."""
    spec_dir = os.path.join(workdir, "spec")
    os.makedirs(spec_dir)
    run([rt, "spec", "--bundle", spec_dir])
    with open(os.path.join(spec_dir, "config.json")) as f:
        spec = json.load(f)
    spec["process"]["terminal"] = False
    spec["process"]["args"] = ["sleep", "1000"]
    spec["root"] = {"path": rootfs, "readonly": True}
    if SECCOMP is not None:
        spec.setdefault("linux", {})["seccomp"] = SECCOMP
    return spec


class ShimDriver(Engine):
    """isula-core's runtime layer without a daemon: bench/shimbench drives OciRuntime through
    isulad-shim (one shim per container, as the engine does). Measures the shim's memory and
    the shim path's latency while the daemon's container commands are missing, and beside them."""

    def __init__(self, tmp, driver, shim, runtime, rootfs, archive=None):
        """archive=None: the runtime layer only; else the embedded Engine loading archive."""
        self.embedded = archive is not None
        name = "isula-core Engine embedded" if self.embedded else "isula-core + isulad-shim"
        super().__init__(f"{name}, no daemon ({runtime})", tmp)
        self.has_daemon = self.embedded  # the driver process holds the engine
        self.driver = driver
        self.shim = os.path.realpath(shim)
        self.rt = runtime
        self.runtime_label = runtime
        self.rootfs = rootfs
        self.archive = archive
        self.dir = os.path.join(tmp, "embedded" if self.embedded else "shimbench")
        self.proc = None

    def daemon_pids(self):
        return [self.proc.pid] if self.proc and self.proc.poll() is None else []

    def version(self):
        return f"{self.shim} ({file_size(self.shim)} B), driver {self.driver}"

    def shim_pids(self):
        return [p for p in all_pids() if readlink(f"/proc/{p}/exe") == self.shim and alive(p)]

    def bench(self, prefix, serial, parallel, threads):
        os.makedirs(self.dir)
        if self.embedded:
            cmd = [self.driver, "engine", self.shim, self.rt, self.dir, self.archive]
        else:
            spec = os.path.join(self.dir, "spec.json")
            with open(spec, "w") as f:
                json.dump(make_spec(self.rt, self.dir, self.rootfs), f)
            cmd = [self.driver, self.shim, self.rt, self.dir, spec]
        err = open(os.path.join(self.dir, "driver.err"), "wb")
        self.proc = Procs.popen(cmd + [prefix, str(serial), str(parallel), str(threads)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=err)
        err.close()
        r = {"engine": self.name, "version": self.version()}
        result = None
        for line in self.proc.stdout:
            msg = json.loads(line)
            if "checkpoint" in msg:
                c = msg["checkpoint"]
                time.sleep(1 if c == "serial" else 2)
                key = {"idle": "mem_idle", "serial": f"mem_{serial}", "parallel": f"mem_{parallel}",
                       "after": "mem_after"}[c]
                r[key] = snapshot(self)
                self.proc.stdin.write(b"\n")
                self.proc.stdin.flush()
            elif "result" in msg:
                result = msg["result"]
                break
            elif "error" in msg:
                raise CmdError(f"shimbench: {msg['error']}")
        self.proc.wait(60)
        Procs.release(self.proc)
        if result is None:
            raise CmdError("shimbench: no result: " + open(os.path.join(self.dir, "driver.err")).read()[-800:])
        r["latency"] = {k: stats(v) for k, v in result["latency"].items()}
        r["latency_raw_ms"] = {k: [round(x * 1000, 2) for x in v] for k, v in result["latency"].items()}
        r["parallel_up_s"] = result["parallel_up_s"]
        r["parallel_rm_s"] = result["parallel_rm_s"]
        return r

    def cleanup(self):
        if self.proc and self.proc.poll() is None:
            kill_pid(self.proc.pid)
            self.proc.wait()
            Procs.release(self.proc)
        state = os.path.join(self.dir, "rtroot")
        if os.path.isdir(state):
            try:
                for n in run([self.rt, "--root", state, "list", "-q"], capture=True)[1].split():
                    run([self.rt, "--root", state, "delete", "--force", n], check=False)
            except CmdError as e:
                print(f"warning: {self.rt} list: {e}", file=sys.stderr)
        for pid in self.shim_pids():
            if self.dir in cmdline(pid):
                print(f"warning: leftover isulad-shim pid {pid}; killing", file=sys.stderr)
                kill_pid(pid)


class Bare(Engine):
    """A bare OCI runtime (crun, runc): one bundle per container over a shared read-only
    busybox rootfs; state under the temporary directory (--root)."""

    def __init__(self, tmp, runtime, rootfs):
        super().__init__(runtime, tmp)
        self.rt = runtime
        self.runtime_label = runtime
        self.dir = os.path.join(tmp, runtime)
        self.state = os.path.join(self.dir, "state")
        self.rootfs = rootfs
        self.template = None
        self.pids = {}

    def version(self):
        return output([self.rt, "--version"]).splitlines()[0]

    def setup(self):
        os.makedirs(self.state)
        self.template = make_spec(self.rt, self.dir, self.rootfs)

    def bundle(self, n):
        return os.path.join(self.dir, "bundles", n)

    def prepare(self, n):
        b = self.bundle(n)
        os.makedirs(b, exist_ok=True)
        spec = dict(self.template)
        spec["hostname"] = n[-12:]
        with open(os.path.join(b, "config.json"), "w") as f:
            json.dump(spec, f)

    def rt_cmd(self, *args):
        return [self.rt, "--root", self.state] + list(args)

    def create(self, n):
        self.touched.add(n)
        return run(self.rt_cmd("create", "--bundle", self.bundle(n), "--pid-file",
                               os.path.join(self.bundle(n), "pid"), n))[0]

    def start(self, n):
        return run(self.rt_cmd("start", n))[0]

    def _pid(self, n):
        with open(os.path.join(self.bundle(n), "pid")) as f:
            return int(f.read().strip())

    def stop(self, n):
        """kill SIGKILL, then wait until the init process is dead (zombie or reaped)."""
        t0 = time.perf_counter()
        pid = self._pid(n)
        run(self.rt_cmd("kill", n, "KILL"))
        deadline = time.time() + 30
        while alive(pid):
            if time.time() > deadline:
                raise CmdError(f"{self.rt}: {n} (pid {pid}) still alive 30s after SIGKILL")
            time.sleep(0.001)
        return time.perf_counter() - t0

    def rm(self, n):
        t = run(self.rt_cmd("delete", n))[0]
        self.touched.discard(n)
        return t

    def run_d(self, n):
        self.touched.add(n)
        return run(self.rt_cmd("run", "--detach", "--bundle", self.bundle(n), "--pid-file",
                               os.path.join(self.bundle(n), "pid"), n))[0]

    def rm_f(self, n):
        t = run(self.rt_cmd("delete", "--force", n))[0]
        self.touched.discard(n)
        return t

    def shim_pids(self):
        return []

    def cleanup(self):
        if not os.path.isdir(self.state):
            return
        listed = set()
        try:
            listed = {line.split()[0] for line in
                      run(self.rt_cmd("list", "-q"), capture=True)[1].split("\n") if line.strip()}
        except CmdError as e:
            print(f"warning: {self.rt} list: {e}", file=sys.stderr)
        for n in sorted(listed | self.touched):
            try:
                run(self.rt_cmd("delete", "--force", n), check=n in listed)
            except CmdError as e:
                print(f"warning: {self.rt}: cannot delete {n}: {e}", file=sys.stderr)


# --------------------------------------------------------------------------------------
# The benchmark.
# --------------------------------------------------------------------------------------

def stats(xs):
    xs = sorted(xs)
    return {"median_ms": statistics.median(xs) * 1000, "p90_ms": xs[math.ceil(0.9 * len(xs)) - 1] * 1000,
            "min_ms": xs[0] * 1000, "max_ms": xs[-1] * 1000, "n": len(xs)}


def busy_cpu_s():
    """CPU seconds the whole machine has spent busy (all CPUs, /proc/stat minus idle and iowait)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")


def snapshot(e):
    return {"daemon": mem_sum(e.daemon_pids()) if e.has_daemon else None, "shims": mem_sum(e.shim_pids())}


def bench_engine(e, prefix, serial, parallel, threads):
    r = {"engine": e.name, "version": e.version()}
    e.setup()
    if e.has_daemon:
        time.sleep(1)
        r["mem_idle"] = snapshot(e)
        if isinstance(e, Isula):
            r["mem_fresh"] = {"daemon": e.idle_fresh}
    # Warm-up (untimed): one run -d and rm -f, so first-use costs do not land in the figures.
    w = f"{prefix}-warm"
    e.prepare(w)
    e.run_d(w)
    e.rm_f(w)

    names = [f"{prefix}-s{i}" for i in range(serial)]
    for n in names:
        e.prepare(n)
    lat = {}
    lat["create"] = [e.create(n) for n in names]
    lat["start"] = [e.start(n) for n in names]
    time.sleep(1)
    r[f"mem_{serial}"] = snapshot(e)
    lat["stop"] = [e.stop(n) for n in names]
    lat["rm"] = [e.rm(n) for n in names]
    names = [f"{prefix}-r{i}" for i in range(serial)]
    for n in names:
        e.prepare(n)
    lat["run -d"] = [e.run_d(n) for n in names]
    lat["rm -f"] = [e.rm_f(n) for n in names]
    r["latency"] = {k: stats(v) for k, v in lat.items()}
    r["latency_raw_ms"] = {k: [round(x * 1000, 2) for x in v] for k, v in lat.items()}

    names = [f"{prefix}-p{i}" for i in range(parallel)]
    for n in names:
        e.prepare(n)

    def up(n):
        e.create(n)
        e.start(n)

    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        c0, t0 = busy_cpu_s(), time.perf_counter()
        list(pool.map(up, names))
        r["parallel_up_s"] = time.perf_counter() - t0
        r["parallel_up_cpu_s"] = busy_cpu_s() - c0
        time.sleep(2)
        r[f"mem_{parallel}"] = snapshot(e)
        t0 = time.perf_counter()
        list(pool.map(e.rm_f, names))
        r["parallel_rm_s"] = time.perf_counter() - t0
    if e.has_daemon:
        time.sleep(2)
        r["mem_after"] = snapshot(e)
    return r


def file_size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return None


def machine_facts(args):
    with open("/proc/meminfo") as f:
        mem_kib = int(f.readline().split()[1])
    cpu = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    cg = "v2 (unified)" if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else "v1 (hybrid)" \
        if os.path.isdir("/sys/fs/cgroup/unified") else "v1"
    commit = output(["git", "-C", args.repo, "log", "-1", "--format=%h %s"])
    dirty = output(["git", "-C", args.repo, "status", "--porcelain", "--untracked-files=no"])
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(), "cpu": cpu, "memory": f"{mem_kib / 1048576:.1f} GiB",
        "kernel": platform.release(), "cgroups": cg, "commit": commit + (" (dirty)" if dirty else ""),
        "loadavg": open("/proc/loadavg").read().split()[:3],
    }


def binary_sizes(bindir):
    return {n: file_size(os.path.join(bindir, n)) for n in ("isulad", "isula", "isulad-shim", "libisula.so")}


# --------------------------------------------------------------------------------------
# Report.
# --------------------------------------------------------------------------------------

def mib(kib):
    return f"{kib / 1024:.1f}"


def fmt_bytes(b):
    return "not built" if b is None else f"{b / 1048576:.2f} MiB ({b} B)"


def report(facts, results, skipped, sizes, args, partial=()):
    L = []
    ok = [r for r in results if "error" not in r]
    L.append("# isula benchmark results (ptcr-style)\n")
    L.append(f"Produced by `python3 bench/ptcr.py` (see bench/README.md). Serial latency over {args.serial} "
             f"containers; {args.parallel} containers created and started in parallel on a pool of "
             f"{args.threads} threads. Command: `sleep 1000` in the busybox image built from /bin/busybox.\n")
    L.append("## Machine\n")
    L.append("| fact | value |\n|---|---|")
    for k in ("date", "nproc", "cpu", "memory", "kernel", "cgroups", "loadavg", "commit", "filesystem"):
        v = facts.get(k, "")
        L.append(f"| {k} | {' '.join(v) if isinstance(v, list) else v} |")
    for r in list(results) + list(partial):
        L.append(f"| {r['engine']} | {r.get('version', '')} |")
    for name, why in skipped:
        L.append(f"| {name} | skipped: {why} |")
    L.append("")
    for r in results:
        if "error" in r:
            L.append(f"**{r['engine']} failed:** `{r['error']}`\n")
    if ok:
        L.append("## Latency, serial (ms, median / p90)\n")
        L.append("| operation | " + " | ".join(r["engine"] for r in ok) + " |")
        L.append("|---|" + "---|" * len(ok))
        ops = ["create", "start", "stop", "rm", "run -d", "rm -f"]
        for op in ops:
            cells = []
            for r in ok:
                s = r["latency"][op]
                cells.append(f"{s['median_ms']:.1f} / {s['p90_ms']:.1f}")
            L.append(f"| {op} | " + " | ".join(cells) + " |")
        L.append("\nBare runtimes: create = `RT create --bundle`, start = `RT start`, stop = `RT kill KILL` + "
                 "waiting for the init to die, rm = `RT delete`, run -d = `RT run --detach`, "
                 "rm -f = `RT delete --force`. Engines: `create --name`, `start`, `stop -t 0`, `rm`, "
                 "`run -d --name`, `rm -f` through their CLI.\n")
        L.append(f"## {args.parallel} containers in parallel ({args.threads} threads), wall time (s)\n")
        L.append("| engine | create+start | rm -f | CPU during create+start (s, whole machine) |\n|---|---|---|---|")
        for r in ok:
            cpu = r.get("parallel_up_cpu_s")
            L.append(f"| {r['engine']} | {r['parallel_up_s']:.2f} | {r['parallel_rm_s']:.2f} | "
                     f"{'n/a' if cpu is None else f'{cpu:.2f}'} |")
        L.append("\nCPU: busy time of all CPUs from /proc/stat over the create+start phase (the engine, its "
                 "CLI processes, runtimes, shims and the kernel work they cause); n/a where the phase is "
                 "timed inside the driver process.\n")
        L.append("## Memory (MiB)\n")
        L.append("Daemon: RSS / PSS of the daemon process(es) from /proc/PID/smaps_rollup. "
                 "Shim: summed PSS of the per-container supervisors (isulad-shim, conmon) divided by "
                 "their count. Bare runtimes leave no process besides the container.\n")
        L.append(f"| engine | daemon idle | daemon, {args.serial} running | daemon, {args.parallel} running "
                 f"| daemon after removing all | shim PSS per container ({args.serial}) "
                 f"| shim PSS per container ({args.parallel}) |")
        L.append("|---|---|---|---|---|---|---|")

        def d(r, k):
            m = r.get(k, {}) or {}
            m = m.get("daemon")
            return f"{mib(m['rss_kib'])} / {mib(m['pss_kib'])}" if m and m["count"] else "n/a"

        def s(r, k):
            m = (r.get(k) or {}).get("shims")
            return f"{m['pss_kib'] / m['count'] / 1024:.2f} (n={m['count']})" if m and m["count"] else "n/a"
        for r in ok:
            L.append(f"| {r['engine']} | {d(r, 'mem_idle')} | {d(r, f'mem_{args.serial}')} | "
                     f"{d(r, f'mem_{args.parallel}')} | {d(r, 'mem_after')} | {s(r, f'mem_{args.serial}')} | "
                     f"{s(r, f'mem_{args.parallel}')} |")
        for r in ok:
            if r.get("mem_fresh") and r["mem_fresh"]["daemon"]:
                m = r["mem_fresh"]["daemon"]
                L.append(f"\n{r['engine']}: daemon right after start-up, before `load`: RSS "
                         f"{mib(m['rss_kib'])} MiB, PSS {mib(m['pss_kib'])} MiB. \"Idle\" above is after "
                         "loading the image, with no container.")
        L.append("")
    if partial:
        L.append(partial_report(partial))
    L.append("## Binary sizes (release: lto, strip, codegen-units=1)\n")
    L.append("| binary | size |\n|---|---|")
    for n, b in sizes.items():
        L.append(f"| {n} | {fmt_bytes(b)} |")
    L.append("")
    if args.note:
        L.append("## Notes\n")
        L.extend(f"- {n}" for n in args.note)
        L.append("")
    L.append("## Targets\n")
    L.append("| target | measured | result |\n|---|---|---|")
    for t in targets(list(results) + list(partial), args):
        L.append(f"| {t[0]} | {t[1]} | {t[2]} |")
    L.append("")
    return "\n".join(L)


def targets(results, args):
    by = {r["engine"]: r for r in results if "error" not in r and not r.get("partial")}
    isula = by.get(f"isula ({args.runtime})")
    bare = by.get(args.runtime)
    podman = by.get(f"podman ({args.runtime})")
    out = []

    def verdict(ok):
        return "PASS" if ok else "FAIL"

    def pending(what, why):
        out.append((what, "not measured", f"NOT MEASURED: {why}"))

    t = f"`run -d` median ≤ 1.5× bare `{args.runtime} run -d`"
    if isula and bare:
        a, b = isula["latency"]["run -d"]["median_ms"], bare["latency"]["run -d"]["median_ms"]
        out.append((t, f"{a:.1f} ms vs {b:.1f} ms ({a / b:.2f}×)", verdict(a <= 1.5 * b)))
    else:
        pending(t, "isula containers" if not isula else f"bare {args.runtime}")
    t = "`run -d` median ≤ 0.5× podman's"
    if isula and podman:
        a, b = isula["latency"]["run -d"]["median_ms"], podman["latency"]["run -d"]["median_ms"]
        out.append((t, f"{a:.1f} ms vs {b:.1f} ms ({a / b:.2f}×)", verdict(a <= 0.5 * b)))
    else:
        pending(t, "isula containers" if not isula else "podman")
    t = f"{args.parallel} parallel create+start ≤ 2× bare {args.runtime}"
    if isula and bare:
        a, b = isula["parallel_up_s"], bare["parallel_up_s"]
        out.append((t, f"{a:.2f} s vs {b:.2f} s ({a / b:.2f}×)", verdict(a <= 2 * b)))
    else:
        pending(t, "isula containers" if not isula else f"bare {args.runtime}")
    idle = None
    for r in results:
        if r["engine"].startswith("isula (") and r.get("mem_idle"):
            idle = r["mem_idle"]["daemon"]
    t = "isulad idle RSS ≤ 10 MiB"
    if idle:
        out.append((t, f"{mib(idle['rss_kib'])} MiB (image loaded, no container)",
                    verdict(idle["rss_kib"] <= 10 * 1024)))
    else:
        pending(t, "isulad did not run")
    t = f"isulad RSS ≤ 40 MiB with {args.parallel} running containers"
    m = isula and isula.get(f"mem_{args.parallel}", {}).get("daemon")
    if m:
        out.append((t, f"{mib(m['rss_kib'])} MiB", verdict(m["rss_kib"] <= 40 * 1024)))
    else:
        pending(t, "isula containers")
    t = "isulad-shim PSS ≤ 1 MiB per container"
    m = isula and isula.get(f"mem_{args.parallel}", {}).get("shims")
    shim = by.get(f"isula-core + isulad-shim, no daemon ({args.runtime})")
    emb = by.get(f"isula-core Engine embedded, no daemon ({args.runtime})")
    how = "under isulad"
    if not (m and m["count"]) and emb:
        m, how = emb.get(f"mem_{args.parallel}", {}).get("shims"), "embedded Engine, no daemon"
    if not (m and m["count"]) and shim:
        m, how = shim.get(f"mem_{args.parallel}", {}).get("shims"), "driven by bench/shimbench, no daemon"
    if m and m["count"]:
        per = m["pss_kib"] / m["count"]
        out.append((t, f"{per / 1024:.2f} MiB ({m['count']} shims, {how})", verdict(per <= 1024)))
    else:
        pending(t, "isula containers")
    if emb and bare:
        a, b = emb["latency"]["run -d"]["median_ms"], bare["latency"]["run -d"]["median_ms"]
        out.append((f"(informative) embedded Engine `run` median vs bare `{args.runtime} run -d` (≤ 1.5× for isula)",
                    f"{a:.1f} ms vs {b:.1f} ms ({a / b:.2f}×)", "no target"))
        a, b = emb["parallel_up_s"], bare["parallel_up_s"]
        out.append((f"(informative) embedded Engine {args.parallel} parallel create+start vs bare (≤ 2× for isula)",
                    f"{a:.2f} s vs {b:.2f} s ({a / b:.2f}×)", "no target"))
    if emb and podman:
        a, b = emb["latency"]["run -d"]["median_ms"], podman["latency"]["run -d"]["median_ms"]
        out.append(("(informative) embedded Engine `run` median vs podman `run -d` (≤ 0.5× for isula)",
                    f"{a:.1f} ms vs {b:.1f} ms ({a / b:.2f}×)", "no target"))
    m = emb and emb.get(f"mem_{args.parallel}", {}).get("daemon")
    if m:
        out.append((f"(informative) embedding process RSS with {args.parallel} running (≤ 40 MiB for isulad)",
                    f"{mib(m['rss_kib'])} MiB", "no target"))
    if shim and bare:
        a, b = shim["latency"]["run -d"]["median_ms"], bare["latency"]["run -d"]["median_ms"]
        out.append((f"(informative) shim path create+start median vs bare `{args.runtime} run -d`",
                    f"{a:.1f} ms vs {b:.1f} ms ({a / b:.2f}×)", "no target"))
        a, b = shim["parallel_up_s"], bare["parallel_up_s"]
        out.append((f"(informative) shim path {args.parallel} parallel create+start vs bare",
                    f"{a:.2f} s vs {b:.2f} s ({a / b:.2f}×)", "no target"))
    return out


# --------------------------------------------------------------------------------------
# Main: set up, run each engine, always clean up.
# --------------------------------------------------------------------------------------

class Interrupted(BaseException):
    pass


def on_signal(signum, _frame):
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Interrupted(f"signal {signum}")


def isula_has_containers(bindir):
    """True when the isula CLI has the container verbs (the lifecycle has landed)."""
    try:
        _, out = run([os.path.join(bindir, "isula"), "--help"], capture=True, check=False)
    except OSError:
        return False
    verbs = {line.split()[0] for line in out.splitlines() if line.startswith("  ") and line.split()}
    return {"create", "start", "stop", "rm", "run"} <= verbs


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(here)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.join(here, "RESULTS.md"), help="Markdown report path")
    ap.add_argument("--json", default=None, help="raw results as JSON (default: OUT with .json)")
    ap.add_argument("--engines", default="isula,embedded,shim,crun,runc,podman,docker",
                    help="comma-separated subset of isula,embedded,shim,crun,runc,podman,docker")
    ap.add_argument("--runtime", default="crun", help="OCI runtime under isula and podman")
    ap.add_argument("--bindir", default=os.path.join(repo, "target", "release"),
                    help="where isulad, isula, isulad-shim, libisula.so are")
    ap.add_argument("--shimbench", default=os.path.join(repo, "target", "release", "shimbench"),
                    help="the bench/shimbench driver (cargo build --release in bench/shimbench)")
    ap.add_argument("--isula-create-args", default="--network none",
                    help="extra args for isula create/run (default --network none: like podman and docker here "
                         "and like the bare runtimes, no network setup is measured)")
    ap.add_argument("--serial", type=int, default=10)
    ap.add_argument("--parallel", type=int, default=100)
    ap.add_argument("--threads", type=int, default=10, help="thread pool size for the parallel phase")
    ap.add_argument("--note", action="append", default=[], help="a line for the Notes section (repeatable)")
    ap.add_argument("--tmp", default=None, help="parent of the temporary directory")
    ap.add_argument("--fs", choices=("loop", "host"), default="loop",
                    help="where the engines work: loop = a fresh ext4 the harness makes on a loop device "
                         "(default), host = the temporary directory on the host's filesystem")
    ap.add_argument("--bare-no-seccomp", action="store_true",
                    help="bare runtimes without the default seccomp filter (the RT spec default)")
    args = ap.parse_args()
    args.repo = repo
    if not args.bare_no_seccomp and os.path.exists(args.shimbench):
        global SECCOMP
        SECCOMP = json.loads(output([args.shimbench, "seccomp"]))
    if os.geteuid() != 0:
        sys.exit("ptcr.py must run as root")
    wanted = [x.strip() for x in args.engines.split(",") if x.strip()]

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    Procs.start_reaper()
    tmp = tempfile.mkdtemp(prefix="isula-ptcr-", dir=args.tmp)
    prefix = f"ptcr{os.getpid()}"
    results, skipped, engines = [], [], []
    code = 0
    try:
        facts = machine_facts(args)
        print(f"working in {tmp}", file=sys.stderr)
        work, facts["filesystem"] = tmp, f"the host's, under {tmp} (--fs host)"
        if args.fs == "loop":
            try:
                work = bench_fs(tmp)
                facts["filesystem"] = "a fresh ext4 on a loop device, made by the harness (--fs loop)"
            except (CmdError, OSError) as ex:
                print(f"warning: cannot make the benchmark filesystem ({ex}); using the host's", file=sys.stderr)
                facts["filesystem"] = f"the host's, under {tmp} (--fs loop failed: {str(ex)[:200]})"
        layer = rootfs_layer()
        archive = os.path.join(work, "busybox.tar")
        docker_archive(layer, archive)
        rootfs = os.path.join(work, "rootfs")
        os.makedirs(rootfs)
        with tarfile.open(fileobj=io.BytesIO(layer)) as t:
            t.extractall(rootfs)

        for w in wanted:
            if w == "isula":
                if not os.path.exists(os.path.join(args.bindir, "isulad")):
                    skipped.append(("isula", f"no isulad in {args.bindir} (cargo build --release)"))
                    continue
                e = Isula(work, args.bindir, args.runtime, archive, args.isula_create_args.split())
                if not isula_has_containers(args.bindir):
                    # Daemon-only measurements until the container verbs exist.
                    engines.append(e)
                    try:
                        e.setup()
                        time.sleep(1)
                        results.append({"engine": e.name, "version": e.version(), "error":
                                        "the isula CLI has no container commands yet: daemon memory only",
                                        "mem_idle": snapshot(e), "mem_fresh": {"daemon": e.idle_fresh}})
                    except (CmdError, OSError) as ex:
                        traceback.print_exc()
                        results.append({"engine": e.name, "version": e.version(), "error": str(ex)[:600]})
                        code = 1
                    finally:
                        e.cleanup()
                    continue
            elif w in ("shim", "embedded"):
                driver = args.shimbench
                if not os.path.exists(driver) or not os.path.exists(os.path.join(args.bindir, "isulad-shim")):
                    skipped.append(("shim", f"build {driver} and {args.bindir}/isulad-shim first"))
                    continue
                e = ShimDriver(work, driver, os.path.join(args.bindir, "isulad-shim"), args.runtime, rootfs,
                               archive if w == "embedded" else None)
                engines.append(e)
                print(f"== {e.name}", file=sys.stderr)
                try:
                    results.append(e.bench(f"{prefix}-{w}", args.serial, args.parallel, args.threads))
                except (CmdError, OSError, ValueError, subprocess.TimeoutExpired) as ex:
                    traceback.print_exc()
                    results.append({"engine": e.name, "version": e.version(), "error": str(ex)[:600]})
                    code = 1
                finally:
                    e.cleanup()
                continue
            elif w in ("crun", "runc"):
                if not shutil.which(w):
                    skipped.append((w, "not installed"))
                    continue
                e = Bare(work, w, rootfs)
            elif w == "podman":
                if not shutil.which("podman"):
                    skipped.append(("podman", "not installed"))
                    continue
                e = Podman(work, args.runtime, archive)
            elif w == "docker":
                if not shutil.which("docker"):
                    skipped.append(("docker", "not installed"))
                    continue
                try:
                    run(["docker", "version", "--format", "{{.Server.Version}}"], timeout=10)
                except (CmdError, OSError):
                    skipped.append(("docker", "CLI installed but no dockerd reachable"))
                    continue
                e = Docker(work)
                e.archive = archive
            else:
                skipped.append((w, "unknown engine"))
                continue
            engines.append(e)
            print(f"== {e.name}", file=sys.stderr)
            try:
                results.append(bench_engine(e, f"{prefix}-{w}", args.serial, args.parallel, args.threads))
            except (CmdError, OSError) as ex:
                traceback.print_exc()
                results.append({"engine": e.name, "version": e.version(), "error": str(ex)[:600]})
                code = 1
            finally:
                e.cleanup()
        # The isula entry that only measured the daemon is reported as memory, not as a failure.
        for r in results:
            if r.get("error", "").startswith("the isula CLI has no container"):
                skipped.append((r["engine"] + " containers", r.pop("error")))
                r["partial"] = True
        sizes = binary_sizes(args.bindir)
        full = [r for r in results if not r.get("partial")]
        partial = [r for r in results if r.get("partial")]
        text = report(facts, full, skipped, sizes, args, partial)
        with open(args.out, "w") as f:
            f.write(text)
        with open(args.json or os.path.splitext(args.out)[0] + ".json", "w") as f:
            json.dump({"machine": facts, "results": results, "skipped": skipped, "sizes": sizes,
                       "args": {k: v for k, v in vars(args).items()}}, f, indent=1, default=str)
        print(text)
    except Interrupted as ex:
        print(f"interrupted ({ex}); cleaning up", file=sys.stderr)
        code = 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for e in engines:
            try:
                e.cleanup()
            except Exception as ex:  # keep cleaning the rest
                print(f"warning: cleanup of {e.name}: {ex}", file=sys.stderr)
        final_sweep(tmp)
        Procs.stop_reaper()
    sys.exit(code)


def partial_report(partial):
    L = ["## isulad without containers\n",
         "The container commands were not available in this build; only the daemon was measured.\n",
         "| engine | daemon fresh RSS / PSS (MiB) | daemon idle, image loaded, RSS / PSS (MiB) |",
         "|---|---|---|"]
    for r in partial:
        f = r["mem_fresh"]["daemon"]
        i = r["mem_idle"]["daemon"]
        L.append(f"| {r['engine']} | {mib(f['rss_kib'])} / {mib(f['pss_kib'])} | "
                 f"{mib(i['rss_kib'])} / {mib(i['pss_kib'])} |")
    return "\n".join(L) + "\n"


def final_sweep(tmp):
    """Kill any process still running inside the temporary tree (container inits whose root
    or cwd is under it, shims or daemons started with it on their command line), unmount
    everything below it, remove it, and check nothing of ours is left."""
    for attempt in range(2):
        left = []
        for pid in all_pids():
            if pid == os.getpid():
                continue
            root = readlink(f"/proc/{pid}/root")
            cwd = readlink(f"/proc/{pid}/cwd")
            if (root.startswith(tmp) or cwd.startswith(tmp) or tmp in cmdline(pid)) and alive(pid):
                left.append(pid)
        if not left:
            break
        print(f"warning: processes left under {tmp}: {left}; SIGKILL", file=sys.stderr)
        for pid in left:
            kill_pid(pid)
        time.sleep(0.5)
        Procs.reap_orphans()
    unmount_under(tmp)
    shutil.rmtree(tmp, ignore_errors=True)
    if os.path.exists(tmp):
        unmount_under(tmp)
        shutil.rmtree(tmp, ignore_errors=True)
    if os.path.exists(tmp):
        print(f"warning: could not remove {tmp}", file=sys.stderr)


if __name__ == "__main__":
    main()

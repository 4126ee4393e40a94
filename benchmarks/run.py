#!/usr/bin/env python3
"""pyinit against tini, dumb-init, catatonit and supervisord, in one interleaved run.

Machines are shared and noisy: absolute times move 2x between runs, ratios
within one run hold. So every subject is measured in the same run, in shuffled
rounds, and the table reports medians and each figure's ratio to tini's.

Each metric runs with the init as PID 1 of a new PID namespace
(``unshare -fp --mount-proc``, mode "ns") and, where it means something,
started plainly (mode "plain": a subreaper). Floors in the same run: the bare
interpreter (``python3 -I -S -c pass``, ``python3 -c pass``), a minimal C init
(cinit.c) and the kernel reaping its own zombies (cinit -k).

Measuring must not disturb what is measured: zombies are counted through a
pids cgroup (``pids.current`` counts a task until it is reaped, ``pids.peak``
its high-water mark), never by scanning the init's children; CPU time comes
from /proc/PID/schedstat (nanoseconds), memory and context switches from
/proc/PID/status.

    python benchmarks/run.py [--smoke] [--json FILE] [--install]

Standard library only: it runs under the project's venv python, which also
holds supervisord (``--install`` pip-installs it there).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import select
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CACHE = ROOT / ".cache" / "bench"
DEV_BIN = Path(sys.executable).parent  # the project's venv: dependencies and supervisord
VENV = CACHE / "venv"  # pyinit installed as in production (see bench_venv)
BIN = VENV / "bin"
PYTHON = str(BIN / "python")  # the interpreter pyinit's console script runs
NS = ["unshare", "-fp", "--mount-proc"]
MODES = ("ns", "plain")


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


# -- set-up ----------------------------------------------------------------------------------


def install() -> None:
    """The reference inits from Debian, supervisord into the project's venv; idempotent.

    Failures are reported, not fatal: what is still missing is skipped, with the reason."""
    missing = [pkg for pkg in ("tini", "dumb-init", "catatonit") if shutil.which(pkg) is None]
    if missing and shutil.which("apt-get") is None:
        log(f"no apt-get: cannot install {' '.join(missing)}")
    elif missing:
        log(f"apt-get install {' '.join(missing)}")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        command = ["apt-get", "install", "-y", "-qq", *missing]
        if subprocess.run(command, env=env).returncode != 0:
            subprocess.run(["apt-get", "update", "-qq"], env=env)
            subprocess.run(command, env=env)
    if find_supervisord() is None:
        log("pip install supervisor")
        if subprocess.run([sys.executable, "-m", "pip", "install", "-q", "supervisor"]).returncode != 0:
            log("could not install supervisor")


def find_supervisord() -> str | None:
    local = DEV_BIN / "supervisord"
    return str(local) if local.exists() else shutil.which("supervisord")


def bench_venv() -> None:
    """pyinit as a regular install would run it, whatever the development venv looks like.

    The development venv's editable install adds an import finder that costs
    about 14 ms at every interpreter start (pathlib, re, urllib), and this
    environment may set PYTHONDONTWRITEBYTECODE, which makes every start
    compile pyinit from source. So: a plain venv of the same interpreter, the
    source tree and the development venv's site-packages (psutil, structlog)
    on sys.path through a plain .pth (a path line: no import), bytecode
    compiled. ``pyinit`` in it is what ``python -m pyinit.launcher`` writes
    (``-IS``, the paths spelled out); the console scripts that pip writes for
    the entry point (pip 24 and later, and before: ``import re``) sit next to
    it for the start-up comparison.
    """
    if not (BIN / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(VENV)], check=True)
    purelib = subprocess.run(
        [PYTHON, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    dev_site = subprocess.run(
        [sys.executable, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(purelib, "pyinit-bench.pth").write_text(f"{ROOT}\n{dev_site}\n")
    pyproject = (ROOT / "pyproject.toml").read_text()
    entry = next(line for line in pyproject.splitlines() if line.startswith("pyinit = "))
    module, func = entry.split('"')[1].split(":")
    scripts = {
        "pyinit-pip": "sys.argv[0] = sys.argv[0].removesuffix('.exe')",
        "pyinit-pip23": "sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])",
    }
    for name, fix in scripts.items():
        imports = "import re\nimport sys" if "re.sub" in fix else "import sys"
        script = BIN / name
        script.write_text(
            f"#!{PYTHON}\n# -*- coding: utf-8 -*-\n{imports}\nfrom {module} import {func}\n"
            f"if __name__ == '__main__':\n    {fix}\n    sys.exit({func}())\n"
        )
        script.chmod(0o755)
    subprocess.run([PYTHON, "-m", "pyinit.launcher", str(BIN / "pyinit")], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([PYTHON, "-m", "compileall", "-q", str(ROOT / "pyinit")], check=True)


def zipapp() -> str | None:
    """dist/pyinit.pyz as scripts/containers/build-zipapp.sh makes it, rebuilt when pyinit changes."""
    target = CACHE / "pyinit.pyz"
    newest = max(p.stat().st_mtime for p in (ROOT / "pyinit").rglob("*.py"))
    if not target.exists() or target.stat().st_mtime < newest:
        build = subprocess.run(
            ["bash", str(ROOT / "scripts/containers/build-zipapp.sh"), "-o", str(target)],
            env=dict(os.environ, PYTHON=sys.executable),
            capture_output=True,
            text=True,
        )
        if build.returncode != 0:
            log(f"no zipapp: {build.stderr.strip().splitlines()[-1:]}")
            return None
    return str(target)


def compile_c() -> dict[str, str]:
    """cinit and the helper, built with gcc into the cache when their source changes."""
    CACHE.mkdir(parents=True, exist_ok=True)
    if shutil.which("gcc") is None:
        raise SystemExit("bench: needs gcc, for the C floor and the workload helper (apt-get install gcc)")
    built = {}
    for name in ("cinit", "helper"):
        source = HERE / f"{name}.c"
        target = CACHE / name
        if not target.exists() or target.stat().st_mtime < source.stat().st_mtime:
            subprocess.run(["gcc", "-O2", "-Wall", "-o", str(target), str(source)], check=True)
        built[name] = str(target)
    return built


# -- subjects --------------------------------------------------------------------------------


@dataclass
class Subject:
    name: str
    prefix: list[str]  # the init's own argv, before the child's; [] for a floor
    kind: str  # "init", "supervisord", "python" (interpreter floor), "kernel", "variant" (start-up only), "pyfloor"
    forwards: bool = True  # forwards SIGUSR1 to its child
    subreaper: bool = True  # reaps orphans when not PID 1
    missing: str = ""  # why it is skipped


def subjects(c: dict[str, str], grace: float, pyz: str | None) -> list[Subject]:
    pyinit = BIN / "pyinit"
    tail = ["--grace", f"{grace:g}", "--"]
    found = [
        Subject("tini", ["tini", "-s", "--"], "init"),
        Subject("dumb-init", ["dumb-init"], "init", subreaper=False),
        Subject("catatonit", ["catatonit", "--"], "init"),
        Subject("supervisord", [], "supervisord", forwards=False, subreaper=False),
        Subject("pyinit", [str(pyinit), *tail], "init"),
        Subject("C init", [c["cinit"], "--"], "init"),
        Subject("kernel", [c["cinit"], "-k", "--"], "kernel", forwards=False),
        Subject("python -I -S", [PYTHON, "-I", "-S"], "python", forwards=False),
        Subject("python -c", [PYTHON], "python", forwards=False),
        # the least a Python init can do (pyfloor.py): signals, memory and reaping only
        Subject("python floor (epoll)", [PYTHON, "-IS", str(HERE / "pyfloor.py"), "epoll", "--"], "pyfloor"),
        Subject("python floor (sigwait)", [PYTHON, "-IS", str(HERE / "pyfloor.py"), "sigwait", "--"], "pyfloor"),
        # the other ways to start pyinit: start-up only
        Subject("pyinit (pip script)", [str(BIN / "pyinit-pip"), *tail], "variant"),
        Subject("pyinit (pip<24 script)", [str(BIN / "pyinit-pip23"), *tail], "variant"),
        Subject("pyinit.pyz", [pyz or "pyinit.pyz", *tail], "variant"),
        Subject("python -m pyinit", [PYTHON, "-m", "pyinit", *tail], "variant"),
    ]
    for s in found:
        if s.name == "pyinit.pyz" and pyz is None:
            s.missing = "the zipapp could not be built (scripts/containers/build-zipapp.sh)"
        elif s.kind == "supervisord":
            if find_supervisord() is None:
                s.missing = "supervisord not installed (pip install supervisor, or run with --install)"
        elif shutil.which(s.prefix[0]) is None:
            s.missing = f"{s.prefix[0]} not installed (apt-get install {s.prefix[0]}, or run with --install)"
    return found


SUPERVISORD_CONF = """\
[supervisord]
nodaemon=true
logfile=/dev/null
logfile_maxbytes=0
pidfile={tmp}/supervisord.pid
childlogdir={tmp}
loglevel=error
user=root

[program:main]
command={command}
autostart=true
autorestart={autorestart}
startsecs=0
startretries=0
stopwaitsecs=10
stdout_logfile=/dev/null
stderr_logfile=/dev/null
"""


def argv_for(s: Subject, child: list[str], mode: str, tmp: Path, autorestart: bool = False) -> list[str]:
    if s.kind == "supervisord":
        conf = tmp / f"supervisord-{random.getrandbits(32):08x}.conf"
        conf.write_text(
            SUPERVISORD_CONF.format(tmp=tmp, command=shlex.join(child), autorestart=str(autorestart).lower())
        )
        argv = [str(find_supervisord()), "-n", "-c", str(conf)]
    else:
        argv = [*s.prefix, *child]
    return [*NS, *argv] if mode == "ns" else argv


# -- the plumbing ----------------------------------------------------------------------------


class Fifo:
    """A named pipe the children report through, one line per report."""

    def __init__(self, path: Path) -> None:
        os.mkfifo(path)
        self.path = str(path)
        self.rfd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        self.wfd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)  # a writer of our own: never EOF
        self.buf = b""

    def line(self, timeout: float) -> str | None:
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.rfd], [], [], left)[0]:
                return None
            try:
                self.buf += os.read(self.rfd, 4096)
            except BlockingIOError:
                continue
        line, _, self.buf = self.buf.partition(b"\n")
        return line.decode()

    def expect_ready(self, timeout: float, what: str) -> None:
        """The workload's "ready" line, or an error naming ``what`` never got ready."""
        if self.line(timeout) != "ready":
            raise RuntimeError(f"{what}: never ready")

    def send(self, data: bytes) -> None:
        os.write(self.wfd, data)

    def close(self) -> None:
        os.close(self.rfd)
        os.close(self.wfd)
        os.unlink(self.path)


class PidsCgroup:
    """Fresh pids cgroups (v1 ``pids`` hierarchy, or v2 with the controller enabled)."""

    def __init__(self) -> None:
        self.root: Path | None = None
        self.why = ""
        self._n = 0
        candidates = [Path("/sys/fs/cgroup/pids")]
        for line in Path("/proc/self/mounts").read_text().splitlines():
            fields = line.split()
            if fields[2] == "cgroup2" and "pids" in Path(fields[1], "cgroup.controllers").read_text():
                candidates.append(Path(fields[1]))
        for root in candidates:
            try:
                if (root / "cgroup.subtree_control").exists():
                    (root / "cgroup.subtree_control").write_text("+pids")
                probe = root / f"pyinit-bench-{os.getpid()}-probe"
                probe.mkdir()
                ok = (probe / "pids.current").exists()
                probe.rmdir()
                if ok:
                    self.root = root
                    return
            except OSError as exc:
                self.why = f"{root}: {exc.strerror}"
        self.why = self.why or "no pids controller mounted"

    def new(self) -> Path:
        assert self.root is not None
        self._n += 1
        path = self.root / f"pyinit-bench-{os.getpid()}-{self._n}"
        path.mkdir()
        return path

    @staticmethod
    def current(path: Path) -> int:
        return int((path / "pids.current").read_text())

    @staticmethod
    def peak(path: Path) -> int | None:
        try:
            return int((path / "pids.peak").read_text())
        except (OSError, ValueError):
            return None


def children_of(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        kids = children_of(todo.pop())
        found += kids
        todo += kids
    return found


class Running:
    """An init started in the background, in a cgroup of its own when there is one."""

    count = 0

    def __init__(self, s: Subject, mode: str, argv: list[str], cgroups: PidsCgroup) -> None:
        self.subject, self.mode = s, mode
        self.cgroup = cgroups.new() if cgroups.root else None
        procs = str(self.cgroup / "cgroup.procs") if self.cgroup else None

        def join() -> None:
            if procs:
                Path(procs).write_text(str(os.getpid()))

        # pyinit serves a control socket while its child runs: one path per instance (several
        # run at once), never the machine's /run/pyinit.sock
        Running.count += 1
        socket = Path(tempfile.gettempdir(), f"pyinit-bench-{os.getpid()}-{Running.count}.sock")
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=join,
            env=dict(os.environ, PYINIT_CONTROL_SOCKET=str(socket)),
        )
        self._init = self.proc.pid if mode == "plain" else 0

    @property
    def init_pid(self) -> int:
        """The init's host pid: unshare's only child in the ns mode."""
        deadline = time.monotonic() + 10
        while not self._init:
            kids = children_of(self.proc.pid)
            if kids:
                self._init = kids[0]
            elif time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"{self.subject.name}: no init process")
            else:
                time.sleep(0.001)
        return self._init

    def sigterm(self, timeout: float) -> float | None:
        """SIGTERM to the init: milliseconds until it has exited (None: still running after ``timeout``)."""
        init = self.init_pid
        t0 = time.monotonic()
        os.kill(init, signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        return (time.monotonic() - t0) * 1e3

    def pids(self) -> int:
        assert self.cgroup is not None
        return PidsCgroup.current(self.cgroup)

    def running(self) -> int:
        """Members of the cgroup that are not zombies (those are an outer reaper's to collect)."""
        assert self.cgroup is not None
        alive = 0
        for pid in (self.cgroup / "cgroup.procs").read_text().split():
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
            except OSError:
                continue
            alive += stat[stat.rindex(")") + 2] != "Z"
        return alive

    def stop(self) -> None:
        """Kill the init's descendants first, while it can still reap them, then the init.

        Killed the other way round, they would be orphaned to an outer reaper that
        may reap late, and their zombies would hold the cgroup."""
        init = self._init or next(iter(children_of(self.proc.pid)), 0)
        ours = {init, self.proc.pid}
        members = (
            [int(p) for p in (self.cgroup / "cgroup.procs").read_text().split()]
            if self.cgroup
            else descendants(init or self.proc.pid)
        )
        for pid in members:
            if pid not in ours:
                _kill(pid)
        if self.cgroup:
            _wait_until(lambda: self.pids() <= len(ours - {0}), 1.0)
        for pid in ours - {0}:
            _kill(pid)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            log(f"{self.subject.name}: did not exit")
        if self.cgroup:
            for pid in (self.cgroup / "cgroup.procs").read_text().split():
                _kill(int(pid))
            if not _wait_until(lambda: self.pids() == 0, 2.0):
                log(f"{self.cgroup}: {self.pids()} processes left (zombies of an outer reaper?)")
                return
            self.cgroup.rmdir()


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _wait_until(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.002)
    return True


def cpu_ns(pid: int) -> int:
    """Time on CPU so far (schedstat, nanoseconds)."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])


def status(pid: int) -> dict[str, int]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssAnon", "voluntary_ctxt_switches", "nonvoluntary_ctxt_switches"):
            out[key] = int(value.split()[0])
    # PSS: shared pages (the interpreter's text, libc) count shared out between their users
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        key, _, value = line.partition(":")
        if key == "Pss":
            out[key] = int(value.split()[0])
    return out


def switches(before: dict[str, int], after: dict[str, int]) -> int:
    """Context switches between two ``status()`` readings: each one a wake-up."""
    return sum(after[k] - before[k] for k in ("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches"))


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def p99(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


# -- the metrics -----------------------------------------------------------------------------

Results = dict[str, dict[str, dict[str, object]]]  # metric -> mode -> subject -> value


@dataclass
class Bench:
    subjects: list[Subject]
    helper: str
    tmp: Path
    cgroups: PidsCgroup
    rng: random.Random
    results: Results = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def put(self, metric: str, mode: str, subject: str, value: object) -> None:
        self.results.setdefault(metric, {}).setdefault(mode, {})[subject] = value

    def pick(self, *kinds: str, forwards: bool = False) -> list[Subject]:
        return [s for s in self.subjects if not s.missing and s.kind in kinds and (s.forwards or not forwards)]

    # 1. start-up ---------------------------------------------------------------------------
    def startup(self, rounds: int) -> None:
        """``INIT stamp`` minus a bare ``stamp`` (a helper as cheap as ``true`` that writes
        the time it started): whole wall time, and the delay until the child starts."""
        fifo = Fifo(self.tmp / "stamp")
        child = [self.helper, "stamp", fifo.path]
        base = Subject("(no init)", [], "base")
        runs = [(s, m) for s in [base, *self.pick("init", "supervisord", "python", "variant")] for m in MODES]
        wall: dict[tuple[str, str], list[float]] = {}
        start: dict[tuple[str, str], list[float]] = {}
        null = os.open(os.devnull, os.O_WRONLY)
        quiet = [(os.POSIX_SPAWN_DUP2, null, 1), (os.POSIX_SPAWN_DUP2, null, 2)]
        for _ in range(rounds):
            self.rng.shuffle(runs)
            for s, mode in runs:
                if s.kind == "python":
                    argv = [*s.prefix, "-c", "pass"]
                    argv = [*NS, *argv] if mode == "ns" else argv
                elif s.kind == "base":
                    argv = [*NS, *child] if mode == "ns" else child
                else:
                    argv = argv_for(s, child, mode, self.tmp)
                exe = shutil.which(argv[0]) or argv[0]
                t0 = time.monotonic_ns()
                pid = os.posix_spawn(exe, argv, os.environ, file_actions=quiet)
                stamp = None
                if s.kind == "supervisord":  # it never exits by itself: stop it once the child ran
                    stamp = fifo.line(20)
                    init = pid if mode == "plain" else (children_of(pid) or [pid])[0]
                    os.kill(init, signal.SIGKILL)
                    os.waitpid(pid, 0)
                    for orphan in descendants(pid):
                        os.kill(orphan, signal.SIGKILL)
                else:
                    os.waitpid(pid, 0)
                    t1 = time.monotonic_ns()
                    wall.setdefault((s.name, mode), []).append((t1 - t0) / 1e6)
                    if s.kind != "python":
                        stamp = fifo.line(5)
                if stamp is not None:
                    start.setdefault((s.name, mode), []).append((int(stamp) - t0) / 1e6)
        os.close(null)
        fifo.close()
        for mode in MODES:
            for s, m in runs:
                if m != mode or s.kind == "base":
                    continue
                key, bkey = (s.name, mode), (base.name, mode)
                if key in wall:
                    self.put("start-up overhead, ms", mode, s.name, median(wall[key]) - median(wall[bkey]))
                if key in start:
                    self.put("exec -> child start, ms", mode, s.name, median(start[key]) - median(start[bkey]))
            self.put("start-up overhead, ms", mode, "(no init)", median(wall[(base.name, mode)]))

    # 3. signal forwarding, then 2. memory and 5. idle cost on the same processes ------------
    def signals_memory_idle(self, rounds: int, idle: float) -> None:
        running: list[tuple[Running, Fifo | None]] = []
        try:
            for s in self.pick("init", "supervisord", "python", "pyfloor"):
                for mode in MODES:
                    if s.kind == "python":
                        argv = [*s.prefix, "-c", "import time; time.sleep(86400)"]
                        running.append((Running(s, mode, [*NS, *argv] if mode == "ns" else argv, self.cgroups), None))
                        continue
                    fifo = Fifo(self.tmp / f"sig-{len(running)}")
                    child = [self.helper, "sigrecv", fifo.path]
                    running.append((Running(s, mode, argv_for(s, child, mode, self.tmp), self.cgroups), fifo))
            for r, fifo in running:
                if fifo is not None and fifo.line(20) != "ready":
                    raise RuntimeError(f"{r.subject.name} ({r.mode}): child never started")
                r.init_pid  # noqa: B018 -- resolve it now, outside any measurement
            forwarding = [(r, f) for r, f in running if f is not None and r.subject.forwards]
            latencies: dict[tuple[str, str], list[float]] = {}
            lost: dict[tuple[str, str], int] = {}
            for _ in range(rounds):
                self.rng.shuffle(forwarding)
                for r, fifo in forwarding:
                    assert fifo is not None
                    t0 = time.monotonic_ns()
                    os.kill(r.init_pid, signal.SIGUSR1)
                    line = fifo.line(2)
                    key = (r.subject.name, r.mode)
                    if line is None:
                        lost[key] = lost.get(key, 0) + 1
                    else:
                        latencies.setdefault(key, []).append((int(line) - t0) / 1e3)
            for (name, mode), values in latencies.items():
                self.put("signal forwarding median, us", mode, name, median(values))
                self.put("signal forwarding p99, us", mode, name, p99(values))
            for (name, mode), count in lost.items():
                self.notes.append(f"{name} ({mode}): {count} of {rounds} signals never reached the child")
            time.sleep(1.0)  # let the interpreters finish starting
            before = {id(r): (status(r.init_pid), cpu_ns(r.init_pid)) for r, _ in running}
            time.sleep(idle)
            for r, _ in running:
                after, cpu = status(r.init_pid), cpu_ns(r.init_pid)
                st0, cpu0 = before[id(r)]
                name, mode = r.subject.name, r.mode
                self.put("VmRSS, MiB", mode, name, after["VmRSS"] / 1024)
                self.put("VmHWM, MiB", mode, name, after["VmHWM"] / 1024)
                self.put("RssAnon, MiB", mode, name, after["RssAnon"] / 1024)
                self.put("PSS, MiB", mode, name, after["Pss"] / 1024)
                self.put(f"idle {idle:g}s: context switches", mode, name, switches(st0, after))
                self.put(f"idle {idle:g}s: CPU, ms", mode, name, (cpu - cpu0) / 1e6)
        finally:
            for r, fifo in running:
                r.stop()
                if fifo is not None:
                    fifo.close()

    # 4. reaping ------------------------------------------------------------------------------
    def reaping(self, rounds: int, count: int, cap: float) -> None:
        if self.cgroups.root is None:
            self.notes.append(f"reaping skipped: no usable pids cgroup ({self.cgroups.why})")
            return
        runs = [
            (s, mode, kind)
            for s in self.pick("init", "supervisord", "kernel", "pyfloor")
            for mode in MODES
            for kind in ("zombies", "orphans")
            if mode == "ns" or s.subreaper
        ]
        cpu: dict[tuple[str, str, str], list[float]] = {}
        wall: dict[tuple[str, str, str], list[float]] = {}
        peak: dict[tuple[str, str, str], list[float]] = {}
        left: dict[tuple[str, str, str], int] = {}
        for round_ in range(rounds):
            self.rng.shuffle(runs)
            for s, mode, kind in runs:
                key = (s.name, mode, kind)
                if s.kind == "supervisord" and round_:
                    continue  # it reaps at most 100 per 1 s tick: one capped round says enough
                report, go = Fifo(self.tmp / "report"), Fifo(self.tmp / "go")
                argv = argv_for(s, [self.helper, kind, str(count), report.path, go.path], mode, self.tmp)
                r = Running(s, mode, argv, self.cgroups)
                try:
                    report.expect_ready(120, f"{s.name} ({mode}) {kind}")
                    init = r.init_pid
                    before = r.pids()
                    # zombies: the maker and its count children go; orphans: the maker goes
                    target = before - count - 1 if kind == "zombies" else before - 1
                    c0, t0 = cpu_ns(init), time.monotonic()
                    go.send(b"g")
                    if kind == "orphans":  # do not even poll while the stream runs
                        report.line(300)
                    # the cap counts from the last exit: a stream itself may take longer than it
                    since = time.monotonic()
                    while (now := r.pids()) > target and time.monotonic() - since < cap:
                        time.sleep(0.001)
                    t1, c1 = time.monotonic(), cpu_ns(init)
                    left[key] = max(left.get(key, 0), now - target)
                    if now > target:
                        what = f"{now - target} of {count} zombies left after {cap:g}s"
                        self.notes.append(f"{s.name} ({mode}) {kind}: {what}")
                    else:
                        cpu.setdefault(key, []).append((c1 - c0) / 1e6)
                        wall.setdefault(key, []).append((t1 - t0) * 1e3)
                    top = PidsCgroup.peak(r.cgroup) if r.cgroup else None
                    if top is not None:
                        extra = top - before if kind == "zombies" else top - before - 1
                        peak.setdefault(key, []).append(max(extra, 0))
                finally:
                    r.stop()
                    report.close()
                    go.close()
        for s, mode, kind in runs:
            key = (s.name, mode, kind)
            what = f"{count} zombies at once" if kind == "zombies" else f"{count} orphans streamed"
            self.put(f"reap {what}: init CPU, ms", mode, s.name, median(cpu.get(key, [])))
            self.put(f"reap {what}: wall, ms", mode, s.name, median(wall.get(key, [])))
            if kind == "orphans":
                self.put(f"reap {what}: zombie peak", mode, s.name, median(peak.get(key, [])))
            self.put(f"reap {what}: zombies left", mode, s.name, left.get(key))

    # 6. teardown -----------------------------------------------------------------------------
    def teardown(self, rounds: int, total: int, ignoring: int) -> None:
        if self.cgroups.root is None:
            self.notes.append(f"teardown skipped: no usable pids cgroup ({self.cgroups.why})")
            return
        runs = [(s, mode) for s in self.pick("init", "supervisord") for mode in MODES]
        stop: dict[tuple[str, str], list[float]] = {}
        gone: dict[tuple[str, str], list[float]] = {}
        left: dict[tuple[str, str], int] = {}
        for _ in range(rounds):
            self.rng.shuffle(runs)
            for s, mode in runs:
                key = (s.name, mode)
                report = Fifo(self.tmp / "report")
                argv = argv_for(s, [self.helper, "tree", str(total), str(ignoring), report.path], mode, self.tmp)
                r = Running(s, mode, argv, self.cgroups)
                try:
                    report.expect_ready(60, f"{s.name} ({mode}) teardown")
                    init = r.init_pid
                    t0 = time.monotonic()
                    os.kill(init, signal.SIGTERM)
                    try:
                        r.proc.wait(timeout=30)
                    except subprocess.TimeoutExpired:
                        self.notes.append(f"{s.name} ({mode}) teardown: still running 30s after SIGTERM")
                        continue
                    stop.setdefault(key, []).append((time.monotonic() - t0) * 1e3)
                    # as PID 1 its exit kills the rest; not PID 1, what is left stays (until we kill it)
                    exited, limit = time.monotonic(), 0.3 if mode == "plain" else 30.0
                    while r.pids() and time.monotonic() - exited < limit:
                        time.sleep(0.001)
                    if r.pids() == 0:
                        gone.setdefault(key, []).append((time.monotonic() - t0) * 1e3)
                    left[key] = max(left.get(key, 0), r.running())
                finally:
                    r.stop()
                    report.close()
        for s, mode in runs:
            key = (s.name, mode)
            label = f"{total} procs ({ignoring} ignore TERM)"
            self.put(f"teardown {label}: init exits, ms", mode, s.name, median(stop.get(key, [])))
            self.put(f"teardown {label}: all gone, ms", mode, s.name, median(gone.get(key, [])))
            self.put(f"teardown {label}: left running", mode, s.name, left.get(key))

    # 7. supervision --------------------------------------------------------------------------
    def supervision(self, rounds: int) -> None:
        """A service that is SIGKILLed: time until it runs again (ns mode), for pyinit
        (``--config services.toml``, restart always, no back-off) and supervisord
        (autorestart). Skipped, with the reason, while pyinit has no ``--config``."""
        helptext = subprocess.run([str(BIN / "pyinit"), "--help"], capture_output=True, text=True).stdout
        subjects = self.pick("supervisord")
        if "--config" in helptext:
            subjects.append(next(s for s in self.subjects if s.name == "pyinit"))
        else:
            self.notes.append("supervision: pyinit skipped, it has no --config (services come from another branch)")
        for s in subjects:
            report = Fifo(self.tmp / "serve")
            service = [self.helper, "serve", report.path]
            if s.kind == "supervisord":
                argv = argv_for(s, service, "ns", self.tmp, autorestart=True)
            else:
                config = self.tmp / "services.toml"
                config.write_text(
                    "[services.bench]\n"
                    f"command = {json.dumps(service)}\n"
                    'restart = "always"\nbackoff_initial = "0s"\nstart_limit = 0\n'
                )
                # A socket of its own: the default /run/pyinit.sock is the machine's, and
                # r.stop() may end pyinit before it can remove it.
                control = self.tmp / "pyinit.sock"
                argv = [*NS, str(BIN / "pyinit"), "--control-socket", str(control), "--config", str(config)]
            t0 = time.monotonic_ns()
            r = Running(s, "ns", argv, self.cgroups)
            restarts: list[float] = []
            try:
                line = report.line(20)
                if line is None:
                    self.notes.append(f"supervision: {s.name} never started the service")
                    continue
                self.put("supervision: start to service running, ms", "ns", s.name, (int(line) - t0) / 1e6)
                for _ in range(rounds):
                    init = r.init_pid
                    kids = children_of(init)
                    if not kids:
                        break
                    t1 = time.monotonic_ns()
                    os.kill(kids[0], signal.SIGKILL)
                    line = report.line(10)
                    if line is None:
                        self.notes.append(f"supervision: {s.name} did not restart the service within 10s")
                        break
                    restarts.append((int(line) - t1) / 1e6)
                    time.sleep(0.05)
            finally:
                r.stop()
                report.close()
            self.put("supervision: restart after SIGKILL, ms", "ns", s.name, median(restarts))

    # 8. a signal storm, then SIGTERM -----------------------------------------------------------
    def storm(self, rounds: int, count: int) -> None:
        """The never-wedge issue's storm: ``count`` signals (USR1, USR2, HUP, RTMIN..RTMIN+5)
        sent to the init as fast as kill() goes, then SIGTERM: the time until the init has
        exited (ns mode). The child ignores the storm and dies of the forwarded SIGTERM."""
        runs = self.pick("init")
        times: dict[str, list[float]] = {}
        for _ in range(rounds):
            self.rng.shuffle(runs)
            for s in runs:
                report = Fifo(self.tmp / "storm")
                r = Running(s, "ns", argv_for(s, [self.helper, "ignore", report.path], "ns", self.tmp), self.cgroups)
                try:
                    report.expect_ready(20, f"{s.name} storm")
                    init = r.init_pid
                    subprocess.run([self.helper, "storm", str(init), str(count)], timeout=120)
                    took = r.sigterm(60)
                    if took is None:
                        self.notes.append(f"{s.name} storm: still running 60s after SIGTERM")
                    else:
                        times.setdefault(s.name, []).append(took)
                finally:
                    r.stop()
                    report.close()
        for s in runs:
            self.put(
                f"storm of {count} signals, then SIGTERM: init exits, ms", "ns", s.name, median(times.get(s.name, []))
            )

    # 9. many services ---------------------------------------------------------------------------
    def services(self, count: int, rounds: int, idle: float) -> None:
        """``count`` services started at once, under pyinit (``--config``) and supervisord (ns
        mode): until the last one runs; the init's context switches and CPU over ``idle``
        seconds with all of them running (first round); SIGTERM until the init has exited,
        every service stopped (they die of SIGTERM)."""
        subjects = self.pick("supervisord") + [s for s in self.subjects if s.name == "pyinit"]
        start: dict[str, list[float]] = {}
        stop: dict[str, list[float]] = {}
        for round_ in range(rounds):
            self.rng.shuffle(subjects)
            for s in subjects:
                report = Fifo(self.tmp / "many")
                service = [self.helper, "serve", report.path]
                if s.kind == "supervisord":
                    conf = self.tmp / "many.conf"
                    programs = "".join(
                        f"\n[program:s{i}]\ncommand={shlex.join(service)}\nautorestart=false\nstartsecs=0\n"
                        "stdout_logfile=/dev/null\nstderr_logfile=/dev/null\n"
                        for i in range(count)
                    )
                    conf.write_text(SUPERVISORD_CONF.split("[program:main]")[0].format(tmp=self.tmp) + programs)
                    argv = [*NS, str(find_supervisord()), "-n", "-c", str(conf)]
                else:
                    conf = self.tmp / "many.toml"
                    conf.write_text(
                        "".join(f"[services.s{i}]\ncommand = {json.dumps(service)}\n" for i in range(count))
                    )
                    argv = [
                        *NS,
                        str(BIN / "pyinit"),
                        "--control-socket",
                        str(self.tmp / "many.sock"),
                        "--config",
                        str(conf),
                    ]
                t0 = time.monotonic_ns()
                r = Running(s, "ns", argv, self.cgroups)
                try:
                    stamps = [report.line(30) for _ in range(count)]
                    if None in stamps:
                        self.notes.append(f"{s.name}: {stamps.count(None)} of {count} services never started")
                        continue
                    start.setdefault(s.name, []).append((max(int(t) for t in stamps if t) - t0) / 1e6)
                    init = r.init_pid
                    if round_ == 0:
                        time.sleep(1.0)  # past any start-up work
                        st0, cpu0 = status(init), cpu_ns(init)
                        time.sleep(idle)
                        st1, cpu1 = status(init), cpu_ns(init)
                        self.put(
                            f"{count} services, idle {idle:g}s: context switches", "ns", s.name, switches(st0, st1)
                        )
                        self.put(f"{count} services, idle {idle:g}s: CPU, ms", "ns", s.name, (cpu1 - cpu0) / 1e6)
                    took = r.sigterm(60)
                    if took is None:
                        self.notes.append(f"{s.name}: still running 60s after SIGTERM with {count} services")
                    else:
                        stop.setdefault(s.name, []).append(took)
                finally:
                    r.stop()
                    report.close()
        for s in subjects:
            self.put(f"{count} services: start to all running, ms", "ns", s.name, median(start.get(s.name, [])))
            self.put(f"{count} services: SIGTERM to all stopped, ms", "ns", s.name, median(stop.get(s.name, [])))


# -- report ----------------------------------------------------------------------------------


def fmt(value: object) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}" if abs(value) >= 1 else f"{value:.2f}"
    return str(value)


def table(bench: Bench) -> str:
    names = [s.name for s in bench.subjects if not s.missing]
    lines = [
        "| metric | mode | " + " | ".join(names) + " |",
        "|---|---|" + "---|" * len(names),
    ]
    for metric, by_mode in bench.results.items():
        for mode in MODES:
            row = by_mode.get(mode)
            if not row:
                continue
            refname = "tini" if "tini" in row else "supervisord"  # supervision: no tini
            ref = row.get(refname)
            cells = []
            for name in names:
                value = row.get(name)
                cell = fmt(value) if name in row else ""
                if (
                    name != refname
                    and isinstance(value, (int, float))
                    and isinstance(ref, (int, float))
                    and ref > 0
                    and value >= 0
                    and not metric.endswith(("left", "left running"))
                ):
                    cell += f" ({value / ref:.2f}x)"
                cells.append(cell)
            lines.append(f"| {metric} | {mode} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def targets(bench: Bench) -> list[str]:
    """The issue's goals, checked against this run: ns mode unless a line names plain."""
    res = bench.results

    def get(metric: str, subject: str, mode: str = "ns") -> float | None:
        value = res.get(metric, {}).get(mode, {}).get(subject)
        return float(value) if isinstance(value, (int, float)) else None

    out = []

    def check(label: str, value: float | None, ref: float | None, limit: float) -> None:
        if value is None or ref is None or ref <= 0:
            out.append(f"- {label}: not measured")
            return
        ratio = value / ref
        out.append(f"- {label}: {ratio:.2f}x (goal <= {limit}x): {'met' if ratio <= limit else 'MISSED'}")

    def matching(prefix: str, suffix: str) -> list[str]:
        return [m for m in res if m.startswith(prefix) and m.endswith(suffix)]

    floor = "python -I -S"
    for name in ("pyinit", "pyinit.pyz", "python -m pyinit", "pyinit (pip script)"):
        for mode in MODES:
            metric = "start-up overhead, ms"
            check(
                f"{name} start-up overhead vs {floor} ({mode})", get(metric, name, mode), get(metric, floor, mode), 1.3
            )
    for stat in ("median", "p99"):
        metric = f"signal forwarding {stat}, us"
        check(
            f"signal forwarding {stat} vs tini",
            get(metric, "pyinit"),
            get(metric, "tini"),
            1.3 if stat == "median" else 1.5,
        )
    for metric in matching("reap", "init CPU, ms"):
        what = metric.removeprefix("reap ").split(":")[0]
        check(f"{what}: CPU vs tini", get(metric, "pyinit"), get(metric, "tini"), 1.2)
    for what in ("VmRSS", "PSS", "RssAnon"):
        check(f"{what} vs an idle {floor}", get(f"{what}, MiB", "pyinit"), get(f"{what}, MiB", floor), 1.1)
    for metric in matching("storm", "init exits, ms"):
        check("storm, then SIGTERM: until the init exits, vs tini", get(metric, "pyinit"), get(metric, "tini"), 2.0)
    for metric in matching("", "context switches"):
        for mode in MODES:
            n = res[metric].get(mode, {}).get("pyinit")
            if n is not None:
                met = "met" if n == 0 else "MISSED"
                out.append(f"- {metric.split(':')[0]} ({mode}): {n} context switches (goal 0): {met}")
    for metric in matching("", "services: start to all running, ms") + matching(
        "", "services: SIGTERM to all stopped, ms"
    ):
        check(f"{metric.split(',')[0]} vs supervisord", get(metric, "pyinit"), get(metric, "supervisord"), 1.0)
    return out


def problems(bench: Bench) -> list[str]:
    """What makes a smoke run fail: pyinit measured nowhere, or leaving zombies."""
    found = []
    for metric, by_mode in bench.results.items():
        for mode, row in by_mode.items():
            if "pyinit" not in row:
                continue
            value = row["pyinit"]
            if value is None and not metric.endswith("all gone, ms"):
                found.append(f"pyinit: no figure for {metric} ({mode})")
            if metric.endswith("zombies left") and value:
                found.append(f"pyinit: {value} zombies left ({metric}, {mode})")
    found += [note for note in bench.notes if note.startswith("pyinit")]
    return found


def machine() -> str:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return f"{os.cpu_count()} CPUs ({cpu}), Linux {platform.release()}, Python {platform.python_version()}"


# -- main ------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="a few seconds: checks it works, not how fast")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--chart", metavar="FILE", help="also draw them (PNG; needs the bench extra: matplotlib)")
    parser.add_argument("--install", action="store_true", help="install missing reference inits first")
    parser.add_argument("--install-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument(
        "--only", default="", help="comma-separated: startup,signals,reaping,teardown,supervision,storm,services"
    )
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench: needs root (PID namespaces, cgroups)", file=sys.stderr)
        return 2
    if args.install or args.install_only:
        install()
        if args.install_only:
            return 0
    smoke = args.smoke
    p = {
        "startup_rounds": 3 if smoke else 15,
        "signal_rounds": 10 if smoke else 300,
        "idle": 1.0 if smoke else 10.0,
        "reap_rounds": 1 if smoke else 2,
        "reap_count": 200 if smoke else 10_000,
        "reap_cap": 3.0,
        "tree": (20, 5) if smoke else (200, 50),
        "teardown_rounds": 1 if smoke else 2,
        "grace": 1.0,
        "restarts": 3 if smoke else 10,
        "storm": 2_000 if smoke else 200_000,
        "storm_rounds": 1 if smoke else 3,
        "services": 50,
        "services_rounds": 1 if smoke else 3,
    }
    everything = {"startup", "signals", "reaping", "teardown", "supervision", "storm", "services"}
    only = set(filter(None, args.only.split(","))) or everything
    c = compile_c()
    bench_venv()
    cgroups = PidsCgroup()
    # The zipapp's head runs the python3 on PATH: the same interpreter as every other subject.
    os.environ["PATH"] = f"{BIN}:{os.environ.get('PATH', '')}"
    # The start-up runs, one at a time, share one control socket (Running gives each its own).
    os.environ["PYINIT_CONTROL_SOCKET"] = str(Path(tempfile.gettempdir(), f"pyinit-bench-{os.getpid()}.sock"))
    all_subjects = subjects(c, p["grace"], zipapp() if "startup" in only else None)
    for s in all_subjects:
        if s.missing:
            log(f"skipping {s.name}: {s.missing}")
    if cgroups.root is None:
        log(f"no pids cgroup ({cgroups.why}): reaping and teardown skipped")
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="pyinit-bench-") as tmp:
        bench = Bench(all_subjects, c["helper"], Path(tmp), cgroups, random.Random(seed))
        steps = [
            ("startup", lambda: bench.startup(p["startup_rounds"])),
            ("signals", lambda: bench.signals_memory_idle(p["signal_rounds"], p["idle"])),
            ("reaping", lambda: bench.reaping(p["reap_rounds"], p["reap_count"], p["reap_cap"])),
            ("teardown", lambda: bench.teardown(p["teardown_rounds"], *p["tree"])),
            ("supervision", lambda: bench.supervision(p["restarts"])),
            ("storm", lambda: bench.storm(p["storm_rounds"], p["storm"])),
            ("services", lambda: bench.services(p["services"], p["services_rounds"], p["idle"])),
        ]
        for name, step in steps:
            if name in only:
                t = time.monotonic()
                step()
                log(f"{name}: {time.monotonic() - t:.1f}s")
    print(f"Machine: {machine()}. Seed {seed}, {time.monotonic() - began:.0f}s.\n")
    print(table(bench))
    print()
    for line in targets(bench):
        print(line)
    for note in bench.notes:
        print(f"- note: {note}")
    trouble = problems(bench)
    for line in trouble:
        print(f"- PROBLEM: {line}")
    if args.chart:
        try:
            import chart  # benchmarks/chart.py, next to this file
        except ImportError as exc:  # a smoke run goes on without it; make bench installs it
            print(f"- {'note' if smoke else 'PROBLEM'}: no chart: {exc} (pip install -e '.[bench]')")
        else:
            chart.draw(bench.results, args.chart, f"{machine()}, {time.strftime('%Y-%m-%d')}, seed {seed}")
            log(f"chart: {args.chart}")
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "machine": machine(),
                    "date": time.strftime("%Y-%m-%d"),
                    "seed": seed,
                    "parameters": p,
                    "skipped": {s.name: s.missing for s in all_subjects if s.missing},
                    "results": bench.results,
                    "targets": targets(bench),
                    "notes": bench.notes,
                },
                indent=2,
            )
        )
    return 1 if trouble and smoke else 0


if __name__ == "__main__":
    sys.exit(main())

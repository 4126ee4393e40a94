"""``pyinit doctor``: one screen on whether this environment gives pyinit what it needs.

Run it where pyinit runs (``docker exec C pyinit doctor``, or as the entrypoint
``docker run --entrypoint pyinit IMAGE doctor``), with the options the real run
uses: what they need is checked harder. Each line is ``ok``, ``info`` (worth
knowing), ``warn`` (something does not work, but these settings do not need it)
or ``FAIL`` (these settings need it and it does not work). Exit 0 without a FAIL,
1 with one, 2 on a usage error.
"""

from __future__ import annotations

import os
import sys

from pyinit import cgroup
from pyinit.settings import DEFAULT_TERMINATION_LOG

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from pyinit.settings import Settings

    Parse = Callable[[Sequence[str], Mapping[str, str]], Settings]

OK, INFO, WARN, FAIL = "ok", "info", "warn", "FAIL"
V2_MEMORY = ("memory.max", "memory.current")
V1_MEMORY = ("memory.limit_in_bytes", "memory.usage_in_bytes")
INIT_NAMES = {"pyinit", "pyinit.pyz", "tini", "docker-init", "podman-init", "dumb-init"}


class Findings:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str]] = []

    def add(self, verdict: str, topic: str, text: str) -> None:
        self.rows.append((verdict, topic, text))

    def check(self, works: bool, needed: bool, topic: str, good: str, bad: str) -> None:
        """``good`` when it works; else ``bad``, a FAIL when the settings need it."""
        self.add(OK if works else FAIL if needed else WARN, topic, good if works else bad)

    def render(self) -> str:
        width = max(len(topic) for _, topic, _ in self.rows)
        return "\n".join(f"{verdict:<4}  {topic:<{width}}  {text}" for verdict, topic, text in self.rows)

    @property
    def failed(self) -> bool:
        return any(verdict == FAIL for verdict, _, _ in self.rows)


def _cmdline(pid: int | str) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as file:
            return [arg.decode(errors="replace") for arg in file.read().split(b"\0") if arg]
    except OSError:
        return []


def _is_pyinit(argv: list[str]) -> bool:
    """pyinit's command line: the script, maybe after its interpreter and flags (python -IS)."""
    names = {os.path.basename(arg) for arg in argv[:3]}
    return bool(names & INIT_NAMES) or ("-m" in argv[1:3] and "pyinit" in argv[2:4])


def _ppid(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as file:
            return int(file.read().rpartition(")")[2].split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def process(found: Findings) -> int:
    """PID 1 or subreaper, and whether the PID namespace is shared; the pid of the pyinit
    that runs here (this process when there is none: it stands for the pyinit to come)."""
    if os.getpid() == 1:
        found.add(OK, "PID 1", "this process is PID 1: pyinit as the entrypoint reaps the whole namespace")
        return 1
    first = _cmdline(1)
    shown = " ".join(first[:3]) or "unknown"
    if _is_pyinit(first):
        found.add(OK, "PID 1", f"pyinit is PID 1 ({shown}): it reaps the whole namespace")
        return 1
    ancestor = _ppid(os.getpid())
    while ancestor > 1 and not _is_pyinit(_cmdline(ancestor)):
        ancestor = _ppid(ancestor)
    where = f"pyinit (pid {ancestor}) is below it" if ancestor > 1 else "no pyinit above this process"
    found.add(
        INFO,
        "PID 1",
        f"PID 1 is {shown}: the PID namespace is shared (a pod's pause process, --pid host) "
        f"or pyinit is not the entrypoint; {where}",
    )
    from pyinit import linux

    try:
        linux.set_child_subreaper()
    except OSError as exc:
        found.add(FAIL, "subreaper", f"prctl(PR_SET_CHILD_SUBREAPER) fails ({exc.strerror}): orphans are not reaped")
    else:
        found.add(OK, "subreaper", "pyinit can be a child subreaper: it reaps the orphans of its own subtree")
    return ancestor if ancestor > 1 else os.getpid()


def signals_work(found: Findings, settings: Settings) -> None:
    import select

    from pyinit import linux

    try:
        fd = linux.signalfd({10})  # SIGUSR1, blocked since pyinit was imported
        try:
            os.kill(os.getpid(), 10)
            arrived = bool(select.select([fd], [], [], 2.0)[0]) and bool(os.read(fd, linux.SIGINFO_SIZE))
        finally:
            os.close(fd)
    except OSError as exc:
        found.add(FAIL, "signals", f"signalfd does not work: {exc.strerror or exc}")
        return
    found.check(arrived, True, "signals", "a blocked signal arrives through a signalfd", "a signal sent never arrived")
    try:
        os.close(os.pidfd_open(os.getpid()))
    except OSError as exc:
        found.check(
            False,
            settings.grace > 0,
            "pidfds",
            "",
            f"pidfd_open fails ({exc.strerror}): the teardown cannot run (pyinit exits as with --grace 0)",
        )
    else:
        found.add(OK, "pidfds", "pidfd_open works: the teardown signals each process through a pidfd")


def control_socket(found: Findings, settings: Settings) -> None:
    from pyinit import control, ctl

    path = settings.control_socket
    needed = settings.config is not None or settings.procfile is not None or settings.stop_delay > 0
    topic = "control"
    try:
        ctl.call(path, {"cmd": "ready"}, timeout=5)
    except (OSError, ValueError):
        pass
    else:
        where = path if os.path.exists(path) else control.shown(control.abstract(path))
        found.add(OK, topic, f"a pyinit answers on {where}: pyinit ctl works")
        return
    directory = os.path.dirname(path) or "."
    if os.access(directory, os.W_OK):
        found.add(OK, topic, f"{directory} is writable: pyinit will listen on {path}")
        return
    import _socket

    probe = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
    try:
        probe.bind(control.abstract(path))
    except OSError as exc:
        found.check(False, needed, topic, "", f"{directory} is read-only and @{path} is taken ({exc.strerror})")
    else:
        found.add(OK, topic, f"{directory} is read-only: pyinit will listen on the abstract socket @{path}")
    finally:
        probe.close()


def _size(value: int | None) -> str:
    if value is None:
        return "no limit"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value //= 1024
    return str(value)


def cgroups(found: Findings, pyinit: int) -> None:
    from pyinit import oom

    memory = cgroup.memory_directory()
    if memory is None:
        found.add(WARN, "memory", "no memory cgroup visible: OOM kills cannot be told from other SIGKILLs")
    else:
        directory, version = memory
        limit_file, usage_file = V2_MEMORY if version == 2 else V1_MEMORY
        limit = cgroup.read_limit(os.path.join(directory, limit_file))
        usage = cgroup.read_limit(os.path.join(directory, usage_file))
        counter = oom.OomCounter()
        found.add(INFO, "memory", f"cgroup v{version} {directory}: limit {_size(limit)}, in use {_size(usage)}")
        found.check(
            counter.seen is not None,
            False,
            "OOM kills",
            f"oom_kill counter readable ({counter.seen} so far): deaths by the OOM killer are named",
            f"no readable oom_kill counter in {directory}: OOM verdicts stay silent",
        )
    pids = cgroup.pids_directory()
    if pids is None:
        found.add(INFO, "pids", "no pids cgroup visible")
    else:
        maximum = cgroup.read_text(os.path.join(pids, "pids.max"))
        current = cgroup.read_text(os.path.join(pids, "pids.current"))
        shown = f"pids.max {maximum.strip()}" if maximum else "no pids.max (the root cgroup)"
        found.add(INFO, "pids", f"{pids}: {shown}" + (f", in use {current.strip()}" if current else ""))
    own = cgroup.read_limit(f"/proc/{pyinit}/oom_score_adj")
    if own is not None:
        found.add(INFO, "oom_score_adj", f"pyinit's {own}; its children get {oom.child_score_adj(own)} by default")


def termination_log(found: Findings, settings: Settings) -> None:
    from pyinit import summary

    path = summary.target(settings.termination_log)
    if path is None:
        if settings.termination_log == "":
            found.add(INFO, "termination", "no termination message (--termination-log '')")
        else:
            found.add(INFO, "termination", f"{DEFAULT_TERMINATION_LOG} absent (not Kubernetes): no termination message")
        return
    exists = os.path.exists(path)
    writable = os.access(path if exists else os.path.dirname(path) or ".", os.W_OK)
    good = f"{path} is writable: pyinit writes why it exited there"
    found.check(writable, True, "termination", good, f"{path} is not writable")


def main(args: Sequence[str], env: Mapping[str, str], parse: Parse) -> int:
    """``pyinit doctor [OPTIONS]``: ``parse`` is the CLI's (pyinit.cli.parse), handed over
    rather than imported, so that the CLI and its subcommand do not import each other."""
    from pyinit.options import EarlyExit, UsageError

    if list(args[:1]) in (["-h"], ["--help"]):
        print(__doc__.split("\n\n", 1)[1].strip() if __doc__ else "")
        return 0
    try:
        settings = parse(["pyinit", *args, "--", "true"], env)
    except EarlyExit as done:
        print(done.text)
        return 0
    except UsageError as exc:
        sys.stderr.write(f"pyinit: doctor: {exc}\nTry 'pyinit doctor --help' for more information.\n")
        return 2
    found = Findings()
    pyinit = process(found)
    signals_work(found, settings)
    control_socket(found, settings)
    cgroups(found, pyinit)
    termination_log(found, settings)
    verdict = "FAIL: these settings need what is marked FAIL" if found.failed else "all that these settings need works"
    try:
        print(found.render() + "\n" + verdict, flush=True)
    except BrokenPipeError:  # `pyinit doctor | head`: the reader has seen enough
        pass
    return 1 if found.failed else 0

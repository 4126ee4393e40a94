"""pyinit in real containers, under Docker and Podman.

These tests need the private runtimes that scripts/containers/setup.sh starts
(`make test` runs it first, outside the test's PID namespace, so that dockerd
outlives the run). They skip, saying why, where no runtime answers.
The environment comes from the process or from /run/pyinit-ci/env.sh.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import wait_for

pytestmark = pytest.mark.timeout(180)

REPO = Path(__file__).resolve().parent.parent
HELPERS = Path(__file__).resolve().parent / "helpers"
ENV_FILE = Path(os.environ.get("PYINIT_CI_ENV", "/run/pyinit-ci/env.sh"))
BASE = "localhost/pyinit-base:bookworm"
GRACE = 2.0
RUNTIME_TIMEOUT = 30  # stop -t: what the runtime waits before its own SIGKILL
RECORDER = ["python3", "/helpers/recorder.py"]
CAPP = ["python3", "/helpers/capp.py"]
PS = ["python3", "-c", (HELPERS / "ps.py").read_text()]  # inline: works without the /helpers mount


def runtime_env() -> dict[str, str]:
    """The process environment, completed from setup.sh's env file."""
    env = dict(os.environ)
    if ENV_FILE.is_file():
        for line in ENV_FILE.read_text().splitlines():
            key, eq, value = line.removeprefix("export ").partition("=")
            if line.startswith("export ") and eq and key != "PATH":
                env.setdefault(key, value)
    return env


class Runtime:
    """One container engine's client, with the names the current test made."""

    def __init__(self, name: str, env: dict[str, str]) -> None:
        self.name = name
        self.exe = env.get(f"PYINIT_{name.upper()}", f"/usr/bin/{name}")
        self.env = env
        self.image = ""
        self.base = env.get("PYINIT_BASE_IMAGE", BASE)
        self.made: list[tuple[str, str]] = []

    def make_name(self, kind: str = "container") -> str:
        """A fresh name for a container or pod, force-removed when the test ends."""
        name = f"pyinit-itest-{uuid.uuid4().hex[:10]}"
        self.made.append((kind, name))
        return name

    def __call__(
        self, *args: str, check: bool = True, timeout: float = 60, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [self.exe, *args], env=self.env, capture_output=True, text=True, timeout=timeout, check=False, cwd=cwd
        )
        if check and result.returncode != 0:
            raise AssertionError(f"{self.name} {' '.join(args)}: exit {result.returncode}\n{result.stderr}")
        return result

    def run_d(self, name: str, *args: str) -> None:
        """A detached container without network, named (``make_name``) for the clean-up."""
        self("run", "-d", "--name", name, "--network", "none", *args)

    def run_rm(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``run --rm`` in the foreground, named so that a timed-out run is removed too."""
        return self("run", "--rm", "--name", self.make_name(), "--network", "none", *args, check=False)

    def unavailable(self) -> str | None:
        """Why this runtime cannot be used here, or None."""
        if not Path(self.exe).is_file():
            return f"{self.exe} is not installed (run scripts/containers/setup.sh)"
        if self.name == "docker" and "DOCKER_HOST" not in self.env:
            return f"no DOCKER_HOST and no {ENV_FILE} (run scripts/containers/setup.sh)"
        probe = self("version", check=False, timeout=20) if self.name == "docker" else self("info", check=False)
        if probe.returncode != 0:
            return f"{self.name} does not answer: {probe.stderr.strip().splitlines()[-1:]}"
        if self("image", "inspect", self.base, check=False).returncode != 0:
            return f"base image {self.base} missing in {self.name} (run scripts/containers/setup.sh)"
        return None


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Wheels of pyinit and its dependencies, built once for both engines' image builds."""
    ctx = tmp_path_factory.mktemp("image-context")
    src = ctx / "src"
    # A copy: `pip wheel` leaves build/ and *.egg-info in the tree it builds.
    shutil.copytree(
        REPO,
        src,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "dist", "build", "wheelhouse", "*.egg-info", "__pycache__", ".*_cache"
        ),
    )
    pip = [sys.executable, "-m", "pip", "wheel", "-q", "--disable-pip-version-check"]
    built = subprocess.run([*pip, str(src), "-w", ctx / "wheelhouse"], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    shutil.copy(REPO / "Dockerfile", ctx)
    shutil.copy(REPO / ".dockerignore", ctx)
    shutil.rmtree(src)
    return ctx


@pytest.fixture(scope="session", params=["docker", "podman"])
def engine(request: pytest.FixtureRequest) -> Iterator[Runtime]:
    """A runtime with the image of the top-level Dockerfile built from this tree (once per session)."""
    rt = Runtime(request.param, runtime_env())
    reason = rt.unavailable()
    if reason:
        pytest.skip(f"{rt.name} unavailable: {reason}")
    context = request.getfixturevalue("wheelhouse")
    rt.image = f"localhost/pyinit:itest-{uuid.uuid4().hex[:8]}"
    rt("build", "-q", "--network", "none", "--build-arg", f"BASE={rt.base}", "-t", rt.image, str(context), timeout=300)
    yield rt
    rt("rmi", "-f", rt.image, check=False)


@pytest.fixture
def rt(engine: Runtime) -> Iterator[Runtime]:
    """The engine; every container and pod named through ``rt.make_name`` is force-removed afterwards."""
    made = engine.made = []
    yield engine
    for kind, name in reversed(made):
        # podman's rm -f would first wait 10 s for its stop signal to work
        now = ["-t", "0"] if engine.name == "podman" else []
        engine(*(["pod"] if kind == "pod" else []), "rm", "-f", *now, name, check=False)
    for kind, name in made:
        listing = engine("pod", "ps", "-q", "--filter", f"name={name}") if kind == "pod" else None
        assert not (listing and listing.stdout.strip()), f"pod {name} left behind"
        if kind == "container":
            left = engine("ps", "-aq", "--filter", f"name={name}").stdout.strip()
            assert not left, f"container {name} left behind"


@pytest.fixture
def out(tmp_path: Path) -> Path:
    tmp_path.chmod(0o777)
    return tmp_path


def mounts(out: Path) -> list[str]:
    return ["-v", f"{HELPERS}:/helpers:ro", "-v", f"{out}:/out"]


def lines(path: Path) -> list[str]:
    try:
        return path.read_text().splitlines()
    except FileNotFoundError:
        return []


def processes(rt: Runtime, name: str) -> dict[int, tuple[int, str, str]]:
    """pid -> (ppid, state, comm), as the container's /proc shows them."""
    shown = rt("exec", name, *PS).stdout.split()
    return {int(shown[i]): (int(shown[i + 1]), shown[i + 2], shown[i + 3]) for i in range(0, len(shown), 4)}


def exit_code(rt: Runtime, name: str) -> int:
    return int(rt("inspect", "-f", "{{.State.ExitCode}}", name).stdout)


# -- the image ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "code"),
    [
        (["sh", "-c", "tr '\\0' ' ' </proc/1/cmdline; exit 7"], 7),
        (["sh", "-c", "tr '\\0' ' ' </proc/1/cmdline; kill -TERM $$"], 128 + 15),
        (["no-such-command-xyz"], 127),
    ],
    ids=["plain", "signal", "not-found"],
)
def test_pyinit_is_pid_1_and_exit_codes_come_back(rt: Runtime, command: list[str], code: int) -> None:
    result = rt.run_rm(rt.image, *command)
    assert result.returncode == code, result.stderr
    if code == 127:
        assert "pyinit: no-such-command-xyz: command not found" in result.stderr
    else:
        # INTERPRETER [-IS] /opt/pyinit/bin/pyinit -- COMMAND (pyinit.launcher writes the script)
        shown = result.stdout.split()
        assert shown[shown.index("/opt/pyinit/bin/pyinit") + 1] == "--" and "python" in shown[0]


def test_stop_delivers_sigterm_to_the_app(rt: Runtime, out: Path) -> None:
    name = rt.make_name()
    rt.run_d(name, *mounts(out), rt.image, *RECORDER, "/out/signals", "--exit-on", "SIGTERM")
    wait_for(lambda: any(line.startswith("ready") for line in lines(out / "signals")), timeout=30)
    started = time.monotonic()
    rt("stop", "-t", str(RUNTIME_TIMEOUT), name, timeout=RUNTIME_TIMEOUT + 30)
    assert time.monotonic() - started < RUNTIME_TIMEOUT
    assert lines(out / "signals")[1:] == ["SIGTERM"]
    assert exit_code(rt, name) == 0  # the app's own exit, passed on by pyinit


def test_stop_with_term_ignoring_children_ends_within_pyinit_grace(rt: Runtime, out: Path) -> None:
    """The runtime's stop -> TERM to the app, which exits 42 and leaves two children that
    shrug off SIGTERM; pyinit TERMs them, waits --grace, SIGKILLs them, and exits 42
    long before the runtime would have SIGKILLed pyinit (which would read 137)."""
    name = rt.make_name()
    rt.run_d(
        name, *mounts(out), "--entrypoint", "pyinit",
        rt.image, "--grace", str(GRACE), "--", *CAPP, "stubborn", "/out",
    )  # fmt: skip
    children = wait_for(lambda: len(kids := sorted(out.glob("child-*"))) == 2 and kids, timeout=30)
    wait_for(lambda: lines(out / "app") == ["ready"] and all(lines(k) == ["ready"] for k in children), timeout=30)

    started = time.monotonic()
    rt("stop", "-t", str(RUNTIME_TIMEOUT), name, timeout=RUNTIME_TIMEOUT + 30)
    stop_duration, stopped_at = time.monotonic() - started, time.time()

    assert exit_code(rt, name) == 42, "not the app's status: the runtime had to SIGKILL pyinit"
    assert stop_duration < RUNTIME_TIMEOUT
    app_exit = float(lines(out / "app")[1].split()[1])
    for child in children:
        recorded = lines(child)
        assert len(recorded) == 2 and recorded[1].startswith("TERM"), f"{child.name}: no SIGTERM from pyinit"
        termed = float(recorded[1].split()[1])
        assert app_exit <= termed  # the teardown began when the app had gone ...
        assert stopped_at - termed >= GRACE * 0.9  # ... and the SIGKILL waited for the grace


def test_hup_and_usr1_reach_the_app(rt: Runtime, out: Path) -> None:
    name = rt.make_name()
    rt.run_d(name, *mounts(out), rt.image, *RECORDER, "/out/signals")
    wait_for(lambda: lines(out / "signals")[:1] and lines(out / "signals")[0].startswith("ready"), timeout=30)
    for sig in ("HUP", "USR1"):
        rt("kill", "-s", sig, name)
        wait_for(lambda: f"SIG{sig}" in lines(out / "signals"), timeout=20)  # noqa: B023 (called at once)
    assert lines(out / "signals")[1:] == ["SIGHUP", "SIGUSR1"]


def test_orphans_of_the_app_are_reaped(rt: Runtime, out: Path) -> None:
    name = rt.make_name()
    rt.run_d(name, *mounts(out), rt.image, *CAPP, "orphans", "/out")
    orphans = wait_for(lambda: len(found := lines(out / "orphans")) == 3 and found, timeout=30)
    pids = [int(line.split()[1]) for line in orphans]
    assert [int(line.split()[2]) for line in orphans] == [1, 1, 1]  # adopted by pyinit, PID 1
    seen = processes(rt, name)
    assert seen[1][2] == "pyinit" or "python" in seen[1][2]
    assert all(seen[pid][0] == 1 and seen[pid][1] != "Z" for pid in pids)
    (out / "go").touch()  # the orphans exit: pyinit must reap them
    wait_for(lambda: not set(pids) & set(processes(rt, name)), timeout=20)
    assert not [pid for pid, (_, state, _) in processes(rt, name).items() if state == "Z"]


def test_orphans_of_exec_workloads_are_reaped(rt: Runtime, out: Path) -> None:
    """exec joins the container's namespaces from outside (setns, like nsenter):
    its orphans are re-parented to the namespace's PID 1, pyinit."""
    name = rt.make_name()
    rt.run_d(name, *mounts(out), rt.image, *RECORDER, "/out/signals")
    wait_for(lambda: lines(out / "signals")[:1], timeout=30)
    script = "(while [ ! -e /out/go ]; do sleep 0.05; done) </dev/null >/dev/null 2>&1 & echo $!"
    pids = [int(rt("exec", name, "sh", "-c", script).stdout) for _ in range(2)]
    seen = processes(rt, name)
    assert all(seen[pid][0] == 1 for pid in pids)
    (out / "go").touch()
    wait_for(lambda: not set(pids) & set(processes(rt, name)), timeout=20)
    assert not [pid for pid, (_, state, _) in processes(rt, name).items() if state == "Z"]


def test_shared_pid_namespace_pyinit_is_a_subreaper(rt: Runtime, out: Path) -> None:
    """Next to another container's PID 1 (podman: the pod's pause process; docker: a
    plain `sleep`, which would never reap), pyinit adopts its own subtree's orphans."""
    app = rt.make_name()
    if rt.name == "podman":
        pod = rt.make_name("pod")
        rt("pod", "create", "--share", "pid", "--network", "none", "--name", pod)
        share = ["--pod", pod]
    else:
        first = rt.make_name()
        rt.run_d(first, "--entrypoint", "sleep", rt.image, "infinity")
        share = ["--pid", f"container:{first}"]
    rt.run_d(app, *share, *mounts(out), rt.image, *CAPP, "orphans", "/out")
    orphans = wait_for(lambda: len(found := lines(out / "orphans")) == 3 and found, timeout=30)
    _, _, pyinit_pid = lines(out / "app")[0].split()
    assert int(pyinit_pid) != 1
    seen = processes(rt, app)
    assert seen[1][2] in ("catatonit", "sleep")  # PID 1 is the other container's
    assert "python" in seen[int(pyinit_pid)][2] or seen[int(pyinit_pid)][2] == "pyinit"
    pids = [int(line.split()[1]) for line in orphans]
    assert [int(line.split()[2]) for line in orphans] == [int(pyinit_pid)] * 3
    assert all(seen[pid][0] == int(pyinit_pid) for pid in pids)
    (out / "go").touch()
    wait_for(lambda: not set(pids) & set(processes(rt, app)), timeout=20)
    assert not [pid for pid, (_, state, _) in processes(rt, app).items() if state == "Z"]


@pytest.fixture(scope="session")
def package_index(wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A package index on 127.0.0.1 holding what building pyinit from source needs
    (setuptools, psutil, structlog): the build's pip reaches it over the network, as
    it would reach PyPI or a mirror, on a machine whose builds reach no index."""
    import functools
    import http.server
    import threading

    root = tmp_path_factory.mktemp("index")
    setuptools = root / "setuptools"
    got = subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--only-binary", ":all:", "--no-deps", "setuptools>=64",
         "-d", str(setuptools)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    if got.returncode != 0:
        pytest.skip(f"no setuptools wheel to serve: {got.stderr.strip()[-200:]}")
    for wheel in (wheelhouse / "wheelhouse").glob("*.whl"):
        project = root / wheel.name.split("-")[0].lower().replace("_", "-")
        project.mkdir(exist_ok=True)
        shutil.copy(wheel, project)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *_: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_build_from_a_plain_clone(rt: Runtime, package_index: str, tmp_path: Path) -> None:
    """`docker build .` / `podman build .` in a fresh clone: no wheelhouse, so the first
    stage builds the wheels from the index (PIP_INDEX_URL points the build at ours)."""
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True, timeout=60)
    assert not (clone / "wheelhouse").exists()
    image = f"localhost/pyinit:itest-clone-{uuid.uuid4().hex[:8]}"
    try:
        rt(
            "build", "-q", "--network", "host", "--build-arg", f"BASE={rt.base}",
            "--build-arg", f"PIP_INDEX_URL={package_index}", "-t", image, str(clone), timeout=600,
        )  # fmt: skip
        result = rt.run_rm(image)
        assert result.returncode == 0 and "ppid=1: running under pyinit" in result.stdout, result.stderr
        version = rt.run_rm("--entrypoint", "pyinit", image, "--version")
        assert version.stdout.startswith("pyinit "), version.stderr
    finally:
        rt("rmi", "-f", image, check=False)


# -- --init: the single-file pyinit injected into an image that lacks it --------


@pytest.fixture(scope="session")
def zipapp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("zipapp") / "pyinit.pyz"
    subprocess.run(
        ["bash", str(REPO / "scripts/containers/build-zipapp.sh"), "-o", str(target)],
        check=True,
        timeout=300,
        capture_output=True,
    )
    return target


def init_args(rt: Runtime, zipapp: Path) -> list[str]:
    if rt.name == "podman":
        return ["--init", "--init-path", str(zipapp)]
    # dockerd takes the init from its own --init-path (setup.sh installs the zipapp there)
    init_path = rt.env.get("PYINIT_INIT_PATH", "")
    if not Path(init_path).is_file():
        pytest.skip(f"dockerd's --init-path file {init_path or '(PYINIT_INIT_PATH unset)'} is missing")
    return ["--init"]


def test_init_path_zipapp(rt: Runtime, out: Path, zipapp: Path) -> None:
    init = init_args(rt, zipapp)
    check = (
        # python3 -IS -c CODE INIT ARGS...: the archive's /bin/sh head runs it without runpy
        "import sys, zipfile; cmd = open('/proc/1/cmdline').read().split(chr(0)); "
        "init = cmd[cmd.index('-c') + 2]; print(init, 'pyinit/init.py' in zipfile.ZipFile(init).namelist()); "
        "sys.exit(7)"
    )
    result = rt.run_rm(*init, *mounts(out), rt.base, "python3", "-c", check)
    assert result.returncode == 7, result.stderr
    assert result.stdout.split() == ["/sbin/docker-init" if rt.name == "docker" else "/run/podman-init", "True"]

    result = rt.run_rm(*init, rt.base, "sh", "-c", "kill -TERM $$")
    assert result.returncode == 128 + 15, result.stderr

    name = rt.make_name()
    rt.run_d(name, *init, *mounts(out), rt.base, *RECORDER, "/out/signals", "--exit-on", "SIGTERM")
    wait_for(lambda: lines(out / "signals")[:1], timeout=30)
    rt("stop", "-t", str(RUNTIME_TIMEOUT), name, timeout=RUNTIME_TIMEOUT + 30)
    assert lines(out / "signals")[1:] == ["SIGTERM"]
    assert exit_code(rt, name) == 0


# -- examples/kubernetes, played by podman ----------------------------------------


def play(rt: Runtime, tmp_path: Path, example: str) -> tuple[str, str, Path]:
    """``podman kube play`` of an example, on this session's image and under a fresh pod
    name; returns (pod, its container "app", the spec played)."""
    pod = rt.make_name("pod")
    text = (REPO / "examples" / "kubernetes" / example).read_text()
    original = next(line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("  name:"))
    spec = tmp_path / example
    spec.write_text(text.replace("localhost/pyinit:dev", rt.image).replace(f"name: {original}\n", f"name: {pod}\n"))
    # In tmp_path: podman 4.3's kube play of a pod with a memory limit leaves an empty
    # file named "oom" in its working directory.
    rt("kube", "play", "--network", "none", str(spec), cwd=tmp_path)
    return pod, f"{pod}-app", spec


@pytest.mark.parametrize("engine", ["podman"], indirect=True)
@pytest.mark.parametrize("example", ["pod.yaml", "shared-pid.yaml", "readiness.yaml"])
def test_kubernetes_examples_with_podman_kube_play(rt: Runtime, tmp_path: Path, example: str) -> None:
    pod, app, spec = play(rt, tmp_path, example)
    if example == "pod.yaml":
        logged = wait_for(lambda: rt("logs", app).stdout.strip(), timeout=30)
        assert logged.startswith("pid 1 is [") and "'/opt/pyinit/bin/pyinit'" in logged.split(";")[0]
    elif example == "shared-pid.yaml":
        logged = wait_for(lambda: rt("logs", app).stdout.strip(), timeout=30)
        assert logged.startswith("pid 1 is /catatonit")
        pyinit_pid = int(logged.rsplit(" ", 1)[1])

        def adopted() -> list[int]:
            seen = processes(rt, app)
            return [pid for pid, (ppid, _, comm) in seen.items() if comm == "sleep" and ppid == pyinit_pid]

        assert processes(rt, app)[1][2] == "catatonit"
        wait_for(lambda: len(adopted()) == 2, timeout=20)  # the app, and the orphan its subshell left
    else:
        # podman 4.3 does not run readiness probes: run the probe's command as the kubelet would.
        wait_for(lambda: rt("exec", app, "pyinit", "ctl", "ready", check=False).returncode == 0, timeout=30)
        status = rt("exec", app, "pyinit", "ctl", "status").stdout.split("\n")[1:]
        assert sorted(line.split()[:2] for line in status if line) == [["web", "ready"], ["worker", "ready"]]
    started = time.monotonic()
    # As a kubelet does: the app containers first, the sandbox last. podman's own `pod stop`
    # stops the pause container at the same time, and when that PID 1 of a shared PID namespace
    # exits the kernel SIGKILLs everything in it, pyinit included (status 137).
    whom = ["stop", app] if example == "shared-pid.yaml" else ["pod", "stop", pod]
    rt(*whom, "-t", str(RUNTIME_TIMEOUT), timeout=RUNTIME_TIMEOUT + 30)
    assert time.monotonic() - started < RUNTIME_TIMEOUT
    if example == "pod.yaml":
        assert "app: SIGTERM, stopping" in rt("logs", app).stdout
    assert exit_code(rt, app) == (0 if example != "shared-pid.yaml" else 128 + 15)
    rt("kube", "down", str(spec), timeout=RUNTIME_TIMEOUT + 30)


# -- container platforms: read-only and non-root, the termination message, drain, OOM ----


def test_read_only_non_root_with_a_termination_log(rt: Runtime, out: Path) -> None:
    """--read-only --user 1000:1000: /run takes no socket, so pyinit listens on the abstract
    @/run/pyinit.sock, `pyinit ctl` finds it unasked, and the only file written is the
    termination message the platform mounted (as a kubelet mounts /dev/termination-log)."""
    message = out / "termination-log"
    message.touch(mode=0o666)
    message.chmod(0o666)
    name = rt.make_name()
    rt.run_d(
        name, "--read-only", "--user", "1000:1000", "-v", f"{message}:/dev/termination-log",
        rt.image, "sleep", "infinity",
    )  # fmt: skip
    wait_for(lambda: rt("exec", name, "pyinit", "ctl", "ready", check=False).returncode == 0, timeout=30)
    row = rt("exec", name, "pyinit", "ctl", "status").stdout.split("\n")[1].split()
    child = [pid for pid, (ppid, _, comm) in processes(rt, name).items() if comm == "sleep" and ppid == 1]
    assert row[:3] == ["sleep", "running", str(child[0])]
    assert rt("exec", name, "test", "-e", "/run/pyinit.sock", check=False).returncode == 1
    assert "Uid:\t1000\t1000" in rt("exec", name, "cat", "/proc/1/status").stdout
    doctor = rt("exec", name, "pyinit", "doctor")
    assert "pyinit will listen" not in doctor.stdout and "answers on @/run/pyinit.sock" in doctor.stdout
    rt("stop", "-t", str(RUNTIME_TIMEOUT), name, timeout=RUNTIME_TIMEOUT + 30)
    assert exit_code(rt, name) == 128 + 15
    assert message.read_text() == (
        f"pyinit exited with status 143: the main child (pid {child[0]}: sleep) was killed by SIGTERM, "
        "after a stop request (SIGTERM)\n"
    )


@pytest.mark.parametrize("engine", ["podman"], indirect=True)
def test_kubernetes_termination_message_example(rt: Runtime, tmp_path: Path) -> None:
    """The app outgrows the pod's 64 MiB limit: the OOM killer takes it, not pyinit, which
    says so (podman mounts no /dev/termination-log: the log carries the verdict)."""
    _, app, spec = play(rt, tmp_path, "termination-message.yaml")
    wait_for(lambda: rt("inspect", "-f", "{{.State.Status}}", app).stdout.strip() == "exited", timeout=60)
    assert exit_code(rt, app) == 137
    logged = rt("logs", app).stderr + rt("logs", app).stdout
    assert "child exited" in logged and "oom_killed=True" in logged and "signal=SIGKILL" in logged
    rt("kube", "down", str(spec), timeout=RUNTIME_TIMEOUT + 30)


@pytest.mark.parametrize("engine", ["podman"], indirect=True)
def test_kubernetes_drain_example(rt: Runtime, tmp_path: Path) -> None:
    """The kubelet's order, by hand (podman runs neither probes nor hooks): ready; the
    preStop hook `pyinit ctl wait-stop` returns at once (no stop pending yet); the SIGTERM
    then turns the container not ready at once while the app keeps serving, and reaches the
    app after the 5 s stop delay; it exits 0."""
    pod, app, spec = play(rt, tmp_path, "drain.yaml")
    ready = ["exec", app, "pyinit", "ctl", "ready"]
    wait_for(lambda: rt(*ready, check=False).returncode == 0, timeout=30)
    assert rt("exec", app, "pyinit", "ctl", "wait-stop", timeout=20).returncode == 0
    assert rt(*ready, check=False).returncode == 0  # the hook alone stops nothing
    rt("kill", "-s", "TERM", app)  # what the kubelet sends after the hook
    wait_for(lambda: rt(*ready, check=False).returncode == 1, timeout=10)  # draining: out of the endpoints
    # The pod's own stop (its TERM is held like the first) keeps the restart policy off it.
    rt("pod", "stop", "-t", str(RUNTIME_TIMEOUT), pod, timeout=RUNTIME_TIMEOUT + 30)
    assert exit_code(rt, app) == 0
    rt("kube", "down", str(spec), timeout=RUNTIME_TIMEOUT + 30)


@pytest.mark.parametrize("engine", ["podman"], indirect=True)
def test_kubernetes_read_only_example(rt: Runtime, tmp_path: Path) -> None:
    pod, app, spec = play(rt, tmp_path, "read-only.yaml")
    wait_for(lambda: rt("exec", app, "pyinit", "ctl", "ready", check=False).returncode == 0, timeout=30)
    assert "Uid:\t1000\t1000" in rt("exec", app, "cat", "/proc/1/status").stdout
    assert rt("exec", app, "touch", "/x", check=False).returncode != 0  # read-only indeed
    assert rt("exec", app, "test", "-e", "/run/pyinit.sock", check=False).returncode == 1
    rt("pod", "stop", "-t", str(RUNTIME_TIMEOUT), pod, timeout=RUNTIME_TIMEOUT + 30)
    assert exit_code(rt, app) == 128 + 15
    rt("kube", "down", str(spec), timeout=RUNTIME_TIMEOUT + 30)

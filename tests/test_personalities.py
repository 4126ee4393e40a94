"""The tini and dumb-init personalities: selection, defaults, variables, wording, exit codes."""

from __future__ import annotations

import errno
import signal

import pytest

from pyinit import cli, personalities, spawn

pytestmark = pytest.mark.timeout(10)


def parse(argv0: str, *args: str, env: dict[str, str] | None = None) -> cli.Settings:
    return cli.parse([argv0, *args], env or {})


@pytest.mark.parametrize(
    ("argv0", "name"),
    [
        ("pyinit", "pyinit"),
        ("/usr/bin/tini", "tini"),
        ("/usr/libexec/docker/docker-init", "tini"),
        ("/usr/libexec/podman/podman-init", "tini"),
        ("/sbin/dumb-init", "dumb-init"),
        ("/usr/local/bin/tini-static", "pyinit"),
    ],
)
def test_personality_from_program_name(argv0: str, name: str) -> None:
    assert parse(argv0, "x").personality.name == name


@pytest.mark.parametrize("spelled", [("--compat", "tini"), ("--compat=tini",)])
def test_compat_flag_selects_and_uses_that_table(spelled: tuple[str, ...]) -> None:
    s = parse("pyinit", *spelled, "-g", "-e", "3", "x")
    assert (s.personality.name, s.single_child, s.expect_exit) == ("tini", False, {3})


def test_compat_must_come_first_and_be_known() -> None:
    with pytest.raises(cli.UsageError, match="first argument"):
        parse("pyinit", "-v", "--compat", "tini", "x")
    with pytest.raises(cli.UsageError, match="unknown personality"):
        parse("pyinit", "--compat", "runit", "x")


def test_defaults_per_mode() -> None:
    native, tini, dumb = parse("pyinit", "x"), parse("tini", "x"), parse("dumb-init", "x")
    assert (native.single_child, tini.single_child, dumb.single_child) == (False, True, False)
    assert (native.isolation, tini.isolation, dumb.isolation) == (spawn.PGROUP, spawn.PGROUP, spawn.SESSION)
    assert (native.job_control, tini.job_control, dumb.job_control) == ("forward", "forward", "stop")
    assert native.rewrite == tini.rewrite == {}
    stop = signal.SIGSTOP
    assert dumb.rewrite == {signal.SIGTSTP: stop, signal.SIGTTIN: stop, signal.SIGTTOU: stop}
    # Graceful teardown stays on in every mode, and PYINIT_GRACE=0 turns it off.
    assert native.grace == tini.grace == dumb.grace == 5.0
    for argv0 in ("pyinit", "tini", "dumb-init"):
        assert parse(argv0, "x", env={"PYINIT_GRACE": "0"}).grace == 0.0


def test_tini_flags_and_variables() -> None:
    s = parse("tini", "-s", "-w", "-vv", "-p", "SIGKILL", "-e", "143", "--", "app", "-g")
    assert s.subreaper and s.warn_on_reap and s.single_child
    assert (s.verbosity, s.pdeathsig, s.expect_exit, s.command) == (2, signal.SIGKILL, {143}, ["app", "-g"])
    assert not parse("tini", "x", env={"TINI_KILL_PROCESS_GROUP": ""}).single_child
    assert parse("tini", "x", env={"TINI_SUBREAPER": ""}).subreaper
    # tini's verbosity is one above pyinit's: its 1 (the default) shows warnings, 0 only fatal errors.
    assert [parse("tini", "x", env={"TINI_VERBOSITY": v}).verbosity for v in ("0", "1", "3", "junk")] == [-1, 0, 2, -1]
    assert parse("tini", "-v", "x", env={"TINI_VERBOSITY": "0"}).verbosity == 0


def test_tini_version_only_alone() -> None:
    with pytest.raises(cli.EarlyExit, match=r"^tini version \d+\.\d+\.\d+"):
        parse("tini", "--version")
    with pytest.raises(cli.UsageError) as caught:
        parse("tini", "--version", "x")
    text, code = personalities.by_name("tini").usage_failure("tini", caught.value)
    assert code == 1 and text.startswith("tini: unrecognized option '--version'\n")


def test_tini_help_and_license_go_to_stdout() -> None:
    with pytest.raises(cli.EarlyExit) as caught:
        parse("docker-init", "-h")
    assert not caught.value.to_stderr and "Usage: tini [OPTIONS] PROGRAM -- [ARGS] | --version" in caught.value.text
    with pytest.raises(cli.EarlyExit, match="MIT"):
        parse("tini", "-l")


@pytest.mark.parametrize(
    ("args", "first_line"),
    [
        ((), "tini (tini version"),
        (("-x", "a"), "tini: invalid option -- 'x'"),  # by its basename, as run from PATH
        (("-e",), "tini: option requires an argument -- 'e'"),
        (("-e", "256", "a"), r"[FATAL tini ("),
        (("-p", "NOPE", "a"), r"[FATAL tini ("),
    ],
)
def test_tini_usage_errors_exit_1(args: tuple[str, ...], first_line: str) -> None:
    with pytest.raises(cli.UsageError) as caught:
        parse("/x/tini", *args)
    assert caught.value.personality == "tini"
    text, code = personalities.by_name("tini").usage_failure("/x/tini", caught.value)
    assert code == 1 and text.startswith(first_line)


def test_dumb_init_flags_and_variables() -> None:
    s = parse("dumb-init", "-c", "-v", "--rewrite", "15:2", "-r", "SIGUSR1:0", "app", "-c")
    assert s.single_child and s.isolation == spawn.PGROUP and s.verbosity == 2 and s.job_control == "stop"
    assert s.rewrite == {signal.SIGTERM: signal.SIGINT, signal.SIGUSR1: 0}  # no SIGSTOP without a session
    assert s.command == ["app", "-c"]
    assert parse("dumb-init", "x", env={"DUMB_INIT_SETSID": "0"}).isolation == spawn.PGROUP
    assert parse("dumb-init", "x", env={"DUMB_INIT_SETSID": "1"}).isolation == spawn.SESSION
    assert parse("dumb-init", "x", env={"DUMB_INIT_DEBUG": "1"}).verbosity == 2
    # A rewrite of a job-control signal wins over the SIGSTOP default.
    assert parse("dumb-init", "-r", "20:0", "x").rewrite[signal.SIGTSTP] == 0


@pytest.mark.parametrize(
    ("args", "first_line"),
    [
        ((), "Usage: dumb-init [option] program [args]"),
        (("--nope", "a"), "dumb-init: unrecognized option '--nope'"),
        (("-x", "a"), "dumb-init: invalid option -- 'x'"),
        (("-r", "32:1", "a"), "Usage: -r option takes <signum>:<signum>"),
        (("-r", "TERM", "a"), "Usage: -r option takes <signum>:<signum>"),
        (("-r", "0:1", "a"), "Usage: -r option takes <signum>:<signum>"),
    ],
)
def test_dumb_init_usage_errors_exit_1(args: tuple[str, ...], first_line: str) -> None:
    with pytest.raises(cli.UsageError) as caught:
        parse("dumb-init", *args)
    text, code = personalities.by_name("dumb-init").usage_failure("dumb-init", caught.value)
    assert code == 1 and text.startswith(first_line)


def test_dumb_init_version_and_help_go_to_stderr() -> None:
    for flag in ("-V", "--version", "-h", "--help", "-l"):
        with pytest.raises(cli.EarlyExit) as caught:
            parse("dumb-init", flag)
        assert caught.value.to_stderr
    with pytest.raises(cli.EarlyExit) as caught:
        parse("dumb-init", "-V")
    assert str(caught.value) == f"dumb-init v{personalities.DUMB_INIT_VERSION}"  # nothing after it: scripts parse it
    text, code = personalities.by_name("dumb-init").usage_failure(
        "/bin/dumb-init", cli.UsageError("no command", kind="command")
    )
    assert (text, code) == (
        "Usage: dumb-init [option] program [args]\nTry dumb-init --help for full usage.\n",
        1,
    )


@pytest.mark.parametrize(
    ("name", "err", "code", "message"),
    [
        ("pyinit", errno.ENOENT, 127, "pyinit: app: command not found"),
        ("pyinit", errno.EACCES, 126, "pyinit: app: permission denied (not executable)"),
        ("tini", errno.ENOENT, 127, "[FATAL tini (42)] exec app failed: No such file or directory"),
        ("tini", errno.EACCES, 126, "[FATAL tini (42)] exec app failed: Permission denied"),
        ("tini", errno.ENOEXEC, 1, "[FATAL tini (42)] exec app failed: Exec format error"),
        ("dumb-init", errno.ENOENT, 2, "[dumb-init] app: No such file or directory"),
        ("dumb-init", errno.EACCES, 2, "[dumb-init] app: Permission denied"),
    ],
)
def test_exec_failures(name: str, err: int, code: int, message: str) -> None:
    failure = personalities.by_name(name).exec_failure("app", spawn.exec_failure("app", err), 42)
    assert (failure.code, str(failure)) == (code, message)


def test_ctl_is_a_command_name_outside_pyinit_mode() -> None:
    assert parse("tini", "ctl", "status").command == ["ctl", "status"]
    assert parse("dumb-init", "ctl").command == ["ctl"]

"""``pyinit ctl``: the client of a running pyinit's control socket.

Exit status: 0 done (for ``ready``: every service is ready); 1 the request
failed or, for ``ready``, some service is not ready; 2 usage error; 3 no
pyinit answers on the socket.

Where the socket's path has no socket, the client tries the abstract socket of
the same name (``@PATH``), where a pyinit that could not make the file listens
(see :mod:`pyinit.control`), so no flag is needed on a read-only root.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any

HELP = """\
usage: pyinit ctl [--control-socket PATH] [--json] COMMAND [ARGS]

commands:
  status              a table: service, state, pid, uptime, restarts, last exit
  start NAME          start a stopped, exited or failed service
  stop NAME           stop a service (its stop signal, then SIGKILL after its grace)
  restart NAME        stop, then start
  signal NAME SIG     send SIG to the service's process group
  ready               exit 0 only when every service is ready (an exec readiness probe;
                      one command: while it runs and no drain has begun)
  wait-stop           return once the drain of a pending stop (--stop-delay) is
                      over; at once when no stop is pending
  logs NAME [-n LINES] [-f]
                      the last lines NAME wrote (all that pyinit keeps, or LINES);
                      -f: then what it writes, until interrupted
  reload              re-read the config file: start added services, stop removed
                      ones, restart changed ones; leave the others alone
  scale NAME N        run N instances of NAME

options:
  --control-socket PATH  default $PYINIT_CONTROL_SOCKET or /run/pyinit.sock
  --json                 print the raw reply
exit status: 0 ok; 1 failed or not ready; 2 usage error; 3 no pyinit on the socket."""

ARITY = {
    "status": 0,
    "ready": 0,
    "wait-stop": 0,
    "start": 1,
    "stop": 1,
    "restart": 1,
    "signal": 2,
    "reload": 0,
    "scale": 2,
}


class CtlUsage(Exception):
    pass


def parse(args: Sequence[str], env: Mapping[str, str]) -> tuple[str, bool, dict[str, Any]]:
    from pyinit.settings import DEFAULT_CONTROL_SOCKET

    path = env.get("PYINIT_CONTROL_SOCKET") or DEFAULT_CONTROL_SOCKET
    raw = False
    rest = list(args)
    while rest and rest[0].startswith("-"):
        option = rest.pop(0)
        if option in ("-h", "--help"):
            raise CtlUsage("")
        if option == "--json":
            raw = True
        elif option == "--control-socket" and rest:
            path = rest.pop(0)
        elif option.startswith("--control-socket="):
            path = option.partition("=")[2]
        else:
            raise CtlUsage(f"unknown option or missing value: {option}")
    if rest and rest[-1] == "--json":
        raw, rest = True, rest[:-1]
    if not rest:
        raise CtlUsage("no command given (status, start, stop, restart, signal, ready, wait-stop, logs, reload, scale)")
    command, params = rest[0], rest[1:]
    if command == "logs":
        return path, raw, logs_request(params)
    if command not in ARITY:
        raise CtlUsage(f"unknown command: {command}")
    if len(params) != ARITY[command]:
        raise CtlUsage(f"{command} takes {ARITY[command]} argument(s)")
    request: dict[str, Any] = {"cmd": command}
    if params:
        request["name"] = params[0]
    if command == "signal":
        request["signal"] = params[1]
    if command == "scale":
        if not params[1].isdigit():
            raise CtlUsage(f"scale: expected a number of instances, not {params[1]!r}")
        request["count"] = int(params[1])
    return path, raw, request


def _line_count(value: str) -> int:
    if not value.isdigit():
        raise CtlUsage(f"logs: -n takes a number of lines, not {value!r}")
    return int(value)


def logs_request(params: list[str]) -> dict[str, Any]:
    """``logs NAME [-n LINES] [-f]``, the options on either side of NAME."""
    request: dict[str, Any] = {"cmd": "logs", "follow": False}
    rest = list(params)
    while rest:
        item = rest.pop(0)
        if item in ("-f", "--follow"):
            request["follow"] = True
        elif item in ("-n", "--lines"):
            request["lines"] = _line_count(rest.pop(0) if rest else "")
        elif item.startswith("--lines="):
            request["lines"] = _line_count(item.partition("=")[2])
        elif item.startswith("-n") and item[2:].isdigit():
            request["lines"] = _line_count(item[2:])
        elif item.startswith("-"):
            raise CtlUsage(f"logs: unknown option {item}")
        elif "name" in request:
            raise CtlUsage("logs takes one service name")
        else:
            request["name"] = item
    if "name" not in request:
        raise CtlUsage("logs: which service? (logs NAME [-n LINES] [-f])")
    return request


# connect() errors that mean "no pyinit at this path": try its abstract name.
NOT_THERE = (FileNotFoundError, ConnectionRefusedError, NotADirectoryError)


def exchange(path: str, payload: bytes, timeout: float | None = 300.0) -> bytes:
    """Send ``payload`` to the control socket (or its abstract stand-in); the reply up to
    its first newline (or EOF)."""
    import socket

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(path)
        except NOT_THERE as exc:
            try:
                sock.connect("\0" + path)
            except OSError:
                raise exc from None
        try:
            sock.sendall(payload)
        except OSError:  # the server may refuse and close before reading it all
            pass
        data = b""
        while b"\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    return data


def call(path: str, request: dict[str, Any], timeout: float | None = 300.0) -> dict[str, Any]:
    import json

    data = exchange(path, json.dumps(request).encode() + b"\n", timeout)
    reply = json.loads(data.partition(b"\n")[0] or b"null")
    if not isinstance(reply, dict):
        raise ValueError("no reply")
    return reply


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    whole = int(seconds)
    if whole < 60:
        return f"{seconds:.1f}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole // 60 % 60:02d}m"


def table(services: list[dict[str, Any]]) -> str:
    """One row per service; HEALTH and NEXT RUN only when some service has a health check
    or a schedule, so the usual table stays narrow."""
    header = ["SERVICE", "STATE", "PID", "UPTIME", "RESTARTS", "LAST EXIT"]
    with_health = any(s.get("health") for s in services)
    with_schedule = any(s.get("schedule") for s in services)
    header += ["HEALTH"] * with_health + ["NEXT RUN"] * with_schedule
    rows = [header]
    for s in services:
        last_exit = str(s["last_exit"] or "-")
        if s.get("last_duration") is not None:
            last_exit += f" ({_age(s['last_duration'])})"
        row = [str(s["name"]), str(s["state"]), str(s["pid"] or "-"), _age(s["uptime"]), str(s["restarts"]), last_exit]
        row += [str(s.get("health") or "-")] * with_health + [str(s.get("next_run") or "-")] * with_schedule
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows)


def log_line(entry: dict[str, Any]) -> str:
    """``TIME STREAM LINE``, with the service's name first when several are shown (``logs GROUP``)."""
    service = f"{entry['service']} " if entry.get("service") else ""
    return f"{entry.get('time', '-')} {service}{entry.get('stream', '-')} {entry.get('line', '')}"


def logs(path: str, raw: bool, request: dict[str, Any]) -> int:
    """Print the reply's lines, and with ``follow`` each further reply line until EOF or Ctrl-C."""
    import _signal
    import json
    import socket

    import pyinit

    # pyinit blocks every signal when imported; a client that runs until interrupted needs them.
    _signal.pthread_sigmask(_signal.SIG_SETMASK, pyinit.ORIGINAL_MASK)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(None if request.get("follow") else 300.0)
            sock.connect(path)
            sock.sendall(json.dumps(request).encode() + b"\n")
            reader = sock.makefile("rb")
            for data in reader:
                reply = json.loads(data)
                if raw:
                    print(json.dumps(reply), flush=True)
                    continue
                if not reply.get("ok", True):
                    sys.stderr.write(f"pyinit: ctl: {reply.get('error', 'failed')}\n")
                    return 1
                for entry in reply.get("lines", []):
                    print(log_line(entry))
                if "line" in reply:
                    print(log_line(reply["line"]))
                sys.stdout.flush()
    except KeyboardInterrupt:
        return 0
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        sys.stderr.write(f"pyinit: ctl: no answer from {path}: {reason}\n")
        return 3
    return 0


def print_changes(reply: dict[str, Any]) -> None:
    """What a reload or a scale did, one line per kind of change."""
    for kind in ("added", "removed", "changed", "unchanged"):
        names = reply.get(kind)
        if names is not None:
            print(f"{kind}: {', '.join(names) if names else '-'}")


def main(args: Sequence[str], env: Mapping[str, str]) -> int:
    try:
        path, raw, request = parse(args, env)
    except CtlUsage as exc:
        if not str(exc):
            print(HELP)
            return 0
        sys.stderr.write(f"pyinit: ctl: {exc}\nTry 'pyinit ctl --help' for more information.\n")
        return 2
    if request["cmd"] == "logs":
        return logs(path, raw, request)
    try:
        # wait-stop lasts the drain, however long: the hook's own timeout bounds it
        reply = call(path, request, None if request["cmd"] == "wait-stop" else 300.0)
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        sys.stderr.write(f"pyinit: ctl: no answer from {path}: {reason}\n")
        return 3
    if raw:
        import json

        print(json.dumps(reply))
    elif not reply.get("ok"):
        sys.stderr.write(f"pyinit: ctl: {reply.get('error', 'failed')}\n")
        for problem in reply.get("problems", []):
            sys.stderr.write(f"pyinit: {problem}\n")
    elif request["cmd"] in ("reload", "scale"):
        print_changes(reply)
    elif request["cmd"] == "status":
        print(table(reply.get("services", [])))
    elif request["cmd"] == "ready":
        if not reply.get("ready"):
            print("not ready: " + ", ".join(reply.get("not_ready", [])) if reply.get("not_ready") else "not ready")
    elif reply.get("message"):
        print(reply["message"])
    if not reply.get("ok"):
        return 1
    if request["cmd"] == "ready" and not reply.get("ready"):
        return 1
    return 0

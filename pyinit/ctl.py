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
  ready               exit 0 only when every service is ready (an exec readiness probe)
  wait-stop           start draining (as a stop request does: not ready at once),
                      return when the drain (--stop-delay) is over: a preStop hook

options:
  --control-socket PATH  default $PYINIT_CONTROL_SOCKET or /run/pyinit.sock
  --json                 print the raw reply
exit status: 0 ok; 1 failed or not ready; 2 usage error; 3 no pyinit on the socket."""

ARITY = {"status": 0, "ready": 0, "wait-stop": 0, "start": 1, "stop": 1, "restart": 1, "signal": 2}


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
        raise CtlUsage("no command given (status, start, stop, restart, signal, ready, wait-stop)")
    command, params = rest[0], rest[1:]
    if command not in ARITY:
        raise CtlUsage(f"unknown command: {command}")
    if len(params) != ARITY[command]:
        raise CtlUsage(f"{command} takes {ARITY[command]} argument(s)")
    request: dict[str, Any] = {"cmd": command}
    if params:
        request["name"] = params[0]
    if command == "signal":
        request["signal"] = params[1]
    return path, raw, request


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
    rows = [["SERVICE", "STATE", "PID", "UPTIME", "RESTARTS", "LAST EXIT"]]
    for s in services:
        rows.append(
            [
                str(s["name"]),
                str(s["state"]),
                str(s["pid"] or "-"),
                _age(s["uptime"]),
                str(s["restarts"]),
                str(s["last_exit"] or "-"),
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows)


def main(args: Sequence[str], env: Mapping[str, str]) -> int:
    try:
        path, raw, request = parse(args, env)
    except CtlUsage as exc:
        if not str(exc):
            print(HELP)
            return 0
        sys.stderr.write(f"pyinit: ctl: {exc}\nTry 'pyinit ctl --help' for more information.\n")
        return 2
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

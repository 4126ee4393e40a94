"""The control socket: line-delimited JSON over a Unix stream socket, served in the loop.

One request per connection: ``{"cmd": "status"}`` -> one reply line, then the
connection is closed. Only root and pyinit's own uid may talk to it: the file
is mode 0600 and each peer's credentials are checked with SO_PEERCRED, so a
socket made reachable by accident still refuses strangers. A malformed,
oversized or slow request costs one error reply and one closed descriptor;
it never reaches the supervisor. At most :data:`MAX_CONNECTIONS` are open
at once (fewer under a low descriptor limit, :func:`connection_limit`); past
that, a new connection closes the oldest one that has sent nothing yet, so a
flood of idle connections cannot lock ``pyinit ctl`` out.
"""

from __future__ import annotations

import errno
import os
import socket
import struct

from pyinit import log

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from pyinit.loop import Loop, Timer

    Handler = Callable[[dict[str, Any], Callable[[dict[str, Any]], None]], None]

MAX_REQUEST = 4096
MAX_CONNECTIONS = 32
IDLE_TIMEOUT = 10.0


def connection_limit() -> int:
    """MAX_CONNECTIONS, or a quarter of the descriptor limit if that is less: idle clients
    must not take the descriptors that starting a service or a probe needs."""
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return MAX_CONNECTIONS
    return max(1, min(MAX_CONNECTIONS, soft // 4))


def peer_uid(sock: socket.socket) -> int:
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return int(uid)


class Connection:
    def __init__(self, server: Server, sock: socket.socket) -> None:
        self.server, self.sock = server, sock
        self.fd = sock.fileno()
        self.buffer = b""
        self.answered = False
        self.requested = False  # its request line arrived (it may be waiting for a stop)
        self.timer: Timer | None = server.loop.call_later(IDLE_TIMEOUT, self.close)
        server.loop.add_reader(self.fd, self.readable)

    def readable(self) -> None:
        try:
            data = self.sock.recv(MAX_REQUEST + 1)
        except BlockingIOError:
            return
        except OSError:
            self.close()
            return
        if not data:
            self.close()
            return
        self.buffer += data
        line, newline, _rest = self.buffer.partition(b"\n")
        if not newline:
            if len(self.buffer) > MAX_REQUEST:
                self.reply({"ok": False, "error": f"request too large (at most {MAX_REQUEST} bytes)"})
            return
        if len(line) > MAX_REQUEST:
            self.reply({"ok": False, "error": f"request too large (at most {MAX_REQUEST} bytes)"})
            return
        self.requested = True
        self.server.loop.remove_reader(self.fd)  # one request per connection
        if self.timer is not None:  # a stop may take its service's whole grace to answer
            self.timer.cancel()
            self.timer = None
        request = self.parse(line)
        if request is not None:
            self.server.handler(request, self.reply)

    def parse(self, line: bytes) -> dict[str, Any] | None:
        import json

        try:
            request = json.loads(line)
        except (ValueError, UnicodeDecodeError):
            self.reply({"ok": False, "error": "malformed request (want one JSON object per line)"})
            return None
        if not isinstance(request, dict) or not isinstance(request.get("cmd"), str):
            self.reply({"ok": False, "error": 'malformed request (want {"cmd": "..."})'})
            return None
        return request

    def reply(self, message: dict[str, Any]) -> None:
        import json

        if self.answered:
            return
        self.answered = True
        if self.sock.fileno() >= 0:
            try:
                self.sock.send(json.dumps(message).encode() + b"\n")
            except OSError:
                pass  # the client is gone or not reading: its loss
        self.close()

    def close(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.sock.fileno() >= 0:
            self.server.loop.remove_reader(self.fd)
            self.sock.close()
        self.server.connections.pop(self, None)
        self.server.resume()
        # A deferred reply (ctl stop) arriving later finds the socket closed and is dropped.


class Server:
    def __init__(self, loop: Loop, path: str, handler: Handler) -> None:
        self.loop, self.path, self.handler = loop, path, handler
        self.connections: dict[Connection, None] = {}  # oldest first
        self.limit = connection_limit()
        self.paused = False  # not accepting: out of descriptors
        self.sock = self._listen(path)
        loop.add_reader(self.sock.fileno(), self.accept)
        log.info("control socket listening", path=path)

    @staticmethod
    def _listen(path: str) -> socket.socket:
        if os.path.exists(path):
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
            try:
                probe.connect(path)
            except OSError:
                os.unlink(path)  # stale: nobody listens there
            else:
                raise OSError(f"another process already serves {path}")
            finally:
                probe.close()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC)
        old = os.umask(0o177)  # born 0600: no window in which others may connect
        try:
            sock.bind(path)
        except OSError:
            sock.close()
            raise
        finally:
            os.umask(old)
        sock.listen(16)
        return sock

    def accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except BlockingIOError:
                return
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE):
                    if self._evict_idle():
                        continue  # that freed a descriptor for this one
                    # Out of descriptors with every connection busy: stop listening until one
                    # closes, or the pending connection would wake the loop again at once, forever.
                    self.loop.remove_reader(self.sock.fileno())
                    self.paused = True
                log.warning("control socket accept failed", error=exc.strerror)
                return
            conn.setblocking(False)
            try:
                uid = peer_uid(conn)
            except OSError:
                conn.close()
                continue
            if uid not in (0, os.getuid()):
                log.warning("control request refused", uid=uid)
                self._refuse(conn, "permission denied")
                continue
            if len(self.connections) >= self.limit and not self._evict_idle():
                self._refuse(conn, "too many connections")
                continue
            self.connections[Connection(self, conn)] = None

    def resume(self) -> None:
        """A descriptor was freed: listen again, if out of them before."""
        if self.paused and self.sock.fileno() >= 0:
            self.paused = False
            self.loop.add_reader(self.sock.fileno(), self.accept)

    def _evict_idle(self) -> bool:
        """Make room by closing the oldest connection that has not sent its request: a flood
        of idle connections must not lock the operator out. One waiting for its answer stays."""
        for connection in self.connections:
            if not connection.requested:
                connection.close()
                return True
        return False

    @staticmethod
    def _refuse(conn: socket.socket, error: str) -> None:
        import json

        try:
            conn.send(json.dumps({"ok": False, "error": error}).encode() + b"\n")
        except OSError:
            pass
        conn.close()

    def close(self) -> None:
        self.paused = False
        for connection in list(self.connections):
            connection.close()
        self.paused = True  # nothing may listen again
        self.loop.remove_reader(self.sock.fileno())
        self.sock.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass

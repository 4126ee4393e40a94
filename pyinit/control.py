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

Where the socket's directory cannot take it (a read-only root file system, a
non-root user who may not write /run), pyinit listens on the abstract Unix
socket of the same name instead: ``@/run/pyinit.sock``, the path with a
leading NUL byte. An abstract socket is no file (it writes nothing) and lives
in the network namespace, so it is the container's own; ``pyinit ctl`` tries
it when the path has no socket. It has no file mode, which makes the
SO_PEERCRED check the only gate there.

The server uses ``_socket``, not ``socket``: single-child mode opens it right
after the child starts, and ``socket`` costs milliseconds to import.
"""

import _socket
import errno
import posix
import sys

from pyinit import log
from pyinit.fs import exists

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from pyinit.loop import Loop, Timer

    Reply = Callable[..., Any]  # (message, more=False) -> bool: still connected
    Handler = Callable[[dict[str, Any], Reply], None]

MAX_REQUEST = 4096
MAX_CONNECTIONS = 32
IDLE_TIMEOUT = 10.0
ACCEPT_BATCH = 64
RETRY_PREPARE = 1.0  # seconds, while there are no descriptors left for epoll
# A streaming reply (``ctl logs -f``) whose client lags by more than this is ended.
STREAM_LIMIT = 256 * 1024


def connection_limit() -> int:
    """MAX_CONNECTIONS, or a quarter of the descriptor limit if that is less: idle clients
    must not take the descriptors that starting a service or a probe needs."""
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return MAX_CONNECTIONS
    return max(1, min(MAX_CONNECTIONS, soft // 4))


# bind() errors that mean "no file can be made here": try the abstract name.
NO_FILE_HERE = frozenset({errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOENT, errno.ENOTDIR})


def abstract(path: str) -> str:
    """The abstract socket name that stands in for ``path``."""
    return "\0" + path


def shown(address: str) -> str:
    """An address as logs and messages write it: ``@`` for the leading NUL."""
    return "@" + address[1:] if address.startswith("\0") else address


def listening(path: str) -> bool:
    """Whether a socket of this network namespace listens on ``path``, from /proc/net/unix.
    Asking by connecting would wake its server: each pyinit starting on a host would wake
    the idle one that serves the default path."""
    target = path.encode("utf-8", "surrogateescape")  # posix.fsencode
    try:
        with open("/proc/net/unix", "rb") as table:
            next(table, None)
            for line in table:
                fields = line.rstrip(b"\n").split(None, 7)
                # Num RefCount Protocol Flags Type St Inode Path; flag 0x10000: listening
                if len(fields) == 8 and fields[7] == target and int(fields[3], 16) & 0x10000:
                    return True
    except (OSError, ValueError):
        pass
    return False


def peer_uid(sock: _socket.socket) -> int:
    creds = sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, 12)  # struct ucred: pid, uid, gid
    return int.from_bytes(creds[4:8], sys.byteorder, signed=True)


class Connection:
    def __init__(self, server: "Server", sock: _socket.socket) -> None:
        self.server, self.sock = server, sock
        self.fd = sock.fileno()
        self.buffer = b""
        self.answered = False
        self.streaming = False
        self.pending = b""  # what a streaming reply's client has not taken yet
        self.writer_fd = -1
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

    def parse(self, line: bytes) -> "dict[str, Any] | None":
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

    def reply(self, message: "dict[str, Any]", more: bool = False) -> bool:
        """Send one reply line. With ``more`` the connection stays open for further lines
        (``ctl logs -f``); False once the client is gone or too slow: send no more."""
        import json

        if self.answered:
            return False
        self.answered = not more
        sent = self._send(json.dumps(message).encode() + b"\n")
        if more and sent and not self.streaming:
            self.streaming = True
            self.server.loop.add_reader(self.fd, self.hangup)  # the client leaving is EOF
        if not sent or (not more and not self.pending):
            self.close()  # else once the last reply has drained
        return sent

    def _send(self, data: bytes) -> bool:
        """Without blocking: what the socket does not take waits (at most STREAM_LIMIT bytes)."""
        if self.sock.fileno() < 0:
            return False
        if self.pending:
            if len(self.pending) + len(data) > STREAM_LIMIT:
                return False  # a follower that does not read is dropped, not waited for
            self.pending += data
            return True
        try:
            sent = self.sock.send(data)
        except BlockingIOError:
            sent = 0
        except OSError:
            return False  # the client is gone: its loss
        if sent < len(data):
            self.pending = data[sent:]
            # A second descriptor for the same socket: epoll watches it for EPOLLOUT
            # while the first is watched for the client hanging up.
            self.writer_fd = posix.dup(self.fd)
            self.server.loop.add_writer(self.writer_fd, self._drain)
        return True

    def _drain(self) -> None:
        try:
            sent = self.sock.send(self.pending)
        except BlockingIOError:
            return
        except OSError:
            self.close()
            return
        self.pending = self.pending[sent:]
        if not self.pending:
            self._stop_draining()
            if self.answered:
                self.close()

    def _stop_draining(self) -> None:
        if self.writer_fd >= 0:
            self.server.loop.remove_writer(self.writer_fd)
            posix.close(self.writer_fd)
            self.writer_fd = -1

    def hangup(self) -> None:
        try:
            data = self.sock.recv(4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.answered = True
            self.close()

    def close(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self._stop_draining()
        if self.sock.fileno() >= 0:
            self.server.loop.remove_reader(self.fd)
            self.sock.close()
        self.server.connections.pop(self, None)
        self.server.resume()
        # A deferred reply (ctl stop) arriving later finds the socket closed and is dropped.


class Server:
    """Listens on ``path``, or on its abstract name when no file can be made there;
    ``address`` is the one in use (``shown()`` writes it for people)."""

    def __init__(self, loop: "Loop", path: str, handler: "Handler") -> None:
        self.loop, self.path, self.handler = loop, path, handler
        self.connections: dict[Connection, None] = {}  # oldest first
        self.limit = 0  # connection_limit(), on the first connection: not on the way to the child
        self.paused = False  # not accepting: out of descriptors
        self.address = path
        try:
            self.sock = self._listen(path)
        except OSError as exc:
            if exc.errno not in NO_FILE_HERE:
                raise
            self.address = abstract(path)
            self.sock = self._listen(self.address)
        # Through SIGIO: a single child's loop goes on waiting in sigtimedwait.
        loop.add_async_reader(self.sock.fileno(), self.accept)
        self.accept()  # a client quicker than O_ASYNC sent no SIGIO
        log.info("control socket listening", path=shown(self.address))

    @staticmethod
    def _listen(address: str) -> _socket.socket:
        if not address.startswith("\0") and exists(address):
            if listening(address):
                raise OSError(f"another process already serves {address}")
            # Not listed: stale, or served from another network namespace; ask.
            probe = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
            try:
                probe.connect(address)
            except OSError:
                posix.unlink(address)  # stale: nobody listens there
            else:
                raise OSError(f"another process already serves {address}")
            finally:
                probe.close()
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_NONBLOCK | _socket.SOCK_CLOEXEC)
        old = posix.umask(0o177)  # born 0600: no window in which others may connect
        try:
            sock.bind(address)
        except OSError as exc:
            sock.close()
            if exc.errno == errno.EADDRINUSE and address.startswith("\0"):
                raise OSError(f"another process already serves {shown(address)}") from None
            raise
        finally:
            posix.umask(old)
        sock.listen(16)
        return sock

    def accept(self) -> None:
        # Bounded per wake-up: a client connecting in a loop must not keep the loop here
        # (the socket stays readable, and the loop comes back after the others' turn).
        for _ in range(ACCEPT_BATCH):
            try:
                fd, _ = self.sock._accept()  # type: ignore[attr-defined]  # accept4(SOCK_CLOEXEC)
                conn = _socket.socket(fileno=fd)
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
                if not self.paused:
                    self.loop.call_later(0, self.accept)  # SIGIO will not say it again
                return
            try:
                self.loop.prepare()  # connections are watched through epoll, made with the first
            except OSError as exc:
                conn.close()
                log.warning("control socket cannot serve", error=exc.strerror or repr(exc))
                self.loop.call_later(RETRY_PREPARE, self.accept)  # out of descriptors: a bounded retry
                return
            conn.setblocking(False)
            try:
                uid = peer_uid(conn)
            except OSError:
                conn.close()
                continue
            if uid not in (0, posix.getuid()):
                log.warning("control request refused", uid=uid)
                self._refuse(conn, "permission denied")
                continue
            if not self.limit:
                self.limit = connection_limit()
            if len(self.connections) >= self.limit and not self._evict_idle():
                self._refuse(conn, "too many connections")
                continue
            self.connections[Connection(self, conn)] = None
        # The batch is spent and more may wait, for which SIGIO came (once) already.
        self.loop.call_later(0, self.accept)

    def resume(self) -> None:
        """A descriptor was freed: listen again, if out of them before."""
        if self.paused and self.sock.fileno() >= 0:
            self.paused = False
            self.loop.add_async_reader(self.sock.fileno(), self.accept)
            self.accept()  # what queued meanwhile sent its SIGIO already

    def _evict_idle(self) -> bool:
        """Make room by closing the oldest connection that has not sent its request: a flood
        of idle connections must not lock the operator out. One waiting for its answer stays."""
        for connection in self.connections:
            if not connection.requested:
                connection.close()
                return True
        return False

    @staticmethod
    def _refuse(conn: _socket.socket, error: str) -> None:
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
        if self.address == self.path:  # an abstract name goes with its socket
            try:
                posix.unlink(self.path)
            except OSError:
                pass

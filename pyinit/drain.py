"""Drain before stop: out of the load balancer first, then stop.

With ``--stop-delay``, a stop request (TERM, INT, QUIT) does not reach the
application at once: pyinit first turns not ready (``pyinit ctl ready`` fails,
so a Kubernetes readiness probe takes the pod out of the endpoints), and
forwards the request when the delay is over. ``pyinit ctl wait-stop`` waits
for a drain under way to be over, and returns at once when no stop is pending:
it never starts one itself, so a hook cannot take a container out of service
that nobody asked to stop.

States::

    starting --running()--> running --stop request--> draining
    draining --delay over--> drained    (stop requests now go through at once)
    any --ended()--> ended              (the child or the services are gone)

Without a stop delay there is nothing to drain: requests go through at once
and ``wait-stop`` returns at once.
"""

from pyinit import log

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from pyinit.loop import Loop

STARTING, RUNNING, DRAINING, DRAINED, ENDED = "starting", "running", "draining", "drained", "ended"


class Drain:
    def __init__(self, loop: "Loop", delay: float, stop: "Callable[[int], None]") -> None:
        """``stop(sig)`` passes a stop request on (forward it, shut the services down)."""
        self.loop = loop
        self.delay = delay
        self.stop = stop
        self.state = STARTING
        self.held: list[int] = []  # stop requests waiting for the drain to end
        self.waiters: list[Callable[[], None]] = []

    @property
    def ready(self) -> bool:
        return self.state == RUNNING

    def _to(self, state: str, **fields: object) -> None:
        """The one transition: every state change passes here and is logged."""
        if state == self.state:
            return
        self.state = state
        if state == DRAINING:
            log.info("draining: not ready; stop requests wait for the stop delay", delay=self.delay, **fields)
        elif state == DRAINED:
            log.info("drain over", **fields)
        if state in (DRAINED, ENDED):
            waiters, self.waiters = self.waiters, []
            for waiter in waiters:
                waiter()

    # -- events ------------------------------------------------------------------
    def running(self) -> None:
        if self.state == STARTING:
            self._to(RUNNING)

    def stop_request(self, sig: int) -> None:
        """A stop request: held until the drain is over, then passed on."""
        if self.delay <= 0 or self.state in (DRAINED, ENDED):
            self.stop(sig)
            return
        self.held.append(sig)
        self._begin(cause="stop request")

    def announce(self, then: "Callable[[], None]") -> None:
        """``wait-stop``: ``then()`` once the drain under way is over; at once when no stop
        is pending (nothing drains) or the drain is over already."""
        if self.state != DRAINING:
            then()
            return
        self.waiters.append(then)

    def ended(self) -> None:
        self.held.clear()
        self._to(ENDED)

    # -- the timeline ----------------------------------------------------------------
    def _begin(self, cause: str) -> None:
        if self.state != DRAINING:
            self._to(DRAINING, cause=cause)
            self.loop.call_later(self.delay, self._over)

    def _over(self) -> None:
        if self.state != DRAINING:
            return
        self._to(DRAINED)
        held, self.held = self.held, []
        for sig in held:
            self.stop(sig)

"""Subscribers to a call's events (:mod:`sprockets_http.events`): the record
of the attempts for ``-v`` and the demo, and the live retry line.

Both are plain subscribers: the command registers them with
:func:`sprockets_http.events.subscribed` for the one call it makes, and the
library's retry loop is used as it is.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, List, Optional

from sprockets_http import events
from sprockets_http.cli.output import LiveLine
from sprockets_http.cli.render import AttemptRecord

__all__ = ["AttemptRecorder", "RetryCountdown"]


class AttemptRecorder:
    """Records each attempt: its outcome (credentials removed, by
    :meth:`events.Call.describe_error`), duration and the wait after it.

    With *owner*, only the calls of that object are recorded.
    """

    event_types = (events.AttemptEnded, events.WaitStarted)

    def __init__(self, owner: Any = None) -> None:
        self.owner = owner
        #: The attempts so far, in order.
        self.records: List[AttemptRecord] = []

    def __call__(self, event: Any) -> None:
        if self.owner is not None and event.call.owner is not self.owner:
            return
        if isinstance(event, events.AttemptEnded):
            self.records.append(
                AttemptRecord(event.number, _outcome(event), event.duration, None)
            )
        elif isinstance(event, events.WaitStarted) and self.records:
            self.records[-1] = self.records[-1]._replace(wait=event.seconds)


def _outcome(event: events.AttemptEnded) -> str:
    if event.error is not None:
        return event.call.describe_error(event.error)
    return f"{event.status} {event.reason_phrase}".rstrip()


class RetryCountdown:
    """While ``http_fetch`` waits before a retry, shows on a :class:`LiveLine`
    what failed and a countdown, such as ``503 Service Unavailable, retrying
    in 2.0 s (attempt 2 of 3)``, and erases it when the next attempt starts
    or the call ends.

    With *owner*, only the calls of that object are shown. The countdown is
    a task on the running loop; :meth:`stop` ends it (the call's end does
    too).
    """

    event_types = (
        events.AttemptStarted,
        events.AttemptEnded,
        events.WaitStarted,
        events.CallEnded,
    )

    def __init__(self, line: LiveLine, owner: Any = None, interval: float = 0.1) -> None:
        self.line = line
        self.owner = owner
        self.interval = interval
        self._last: Optional[events.AttemptEnded] = None
        self._ticker: Optional[asyncio.Future[None]] = None

    def __call__(self, event: Any) -> None:
        if self.owner is not None and event.call.owner is not self.owner:
            return
        if isinstance(event, events.AttemptEnded):
            self._last = event
        elif isinstance(event, events.WaitStarted):
            self.stop()
            if not event.instant and self._last is not None:
                self._ticker = asyncio.ensure_future(self._count_down(self._last, event))
        else:  # the next attempt starts, or the call ends
            self.stop()

    def stop(self) -> None:
        """End the countdown and erase the line."""
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        self.line.clear()

    async def _count_down(self, last: events.AttemptEnded, wait: events.WaitStarted) -> None:
        outcome = _outcome(last)
        what = outcome.splitlines()[0] if outcome else "failed"
        started = time.monotonic()
        while True:
            left = max(wait.seconds - (time.monotonic() - started), 0.0)
            self.line.show(
                f"{what}, retrying in {left:.1f} s "
                f"(attempt {wait.next_attempt} of {wait.call.max_attempts})"
            )
            await asyncio.sleep(self.interval)

"""The package's log lines: a subscriber to the events of every call.

=====================================================  =========
What happened                                          Level
=====================================================  =========
an attempt failed and will be retried                  WARNING
a retryable failure not retried: no attempts left,     WARNING
the deadline, the retry budget, a method not in
``retry_methods``, a certificate failing verification
a 5xx (or no answer) in ``dont_retry``                 WARNING
a ``Warning`` header in a response                     WARNING
success after one or more retries                      INFO
success at the first attempt                           DEBUG
a 4xx returned (an answer, not an incident; also in    DEBUG
``dont_retry``)
=====================================================  =========

Each record carries, in ``extra``, the fields ``method``, ``url`` (redacted),
``attempt``, ``attempts``, ``status`` (``None`` for an exception), ``error``
(the exception's class name, or ``None``), ``duration`` (seconds of the
attempt), ``wait`` (seconds, or ``None``) and ``reason`` (a
:class:`~sprockets_http.retry.Reason` value such as ``"budget"``), so that a
JSON formatter can index them. Records point (``funcName``, ``lineno``) at the
line of ``http_fetch`` where the decision was made.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, Dict, Optional

from sprockets_http._headers import header_value
from sprockets_http._log import LOGGER
from sprockets_http.events import RetryDecided
from sprockets_http.retry import Reason

# Records point at the loop's line that emitted the event: the frames above
# _record are (_log ->) (_write ->) log_event -> events.emit -> the loop.
_STACKLEVEL = 3

_NOT_RETRIED = {
    Reason.METHOD_NOT_RETRIED: "not retried ({method} is not in retry_methods)",
    Reason.CERTIFICATE: "not retried (the TLS certificate failed verification)",
    Reason.DONT_RETRY: "not retried (dont_retry)",
    Reason.ATTEMPTS_EXHAUSTED: "no attempts left",
}


def _outcome(event: RetryDecided) -> str:
    attempt = event.attempt
    if attempt.error is not None:
        return event.call.describe_error(attempt.error)
    return f"{attempt.status} {attempt.reason_phrase}".rstrip()


def _extra(event: RetryDecided) -> Dict[str, Any]:
    attempt = event.attempt
    return {
        "method": event.call.method,
        "url": event.call.url,
        "attempt": attempt.number,
        "attempts": event.call.max_attempts,
        "status": attempt.status,
        "error": attempt.error_type,
        "duration": attempt.duration,
        "wait": event.wait,
        "reason": event.reason.value,
    }


def _record(level: int, stacklevel: int, message: str, args: Any, extra: Dict[str, Any]) -> None:
    """What ``LOGGER.log(level, message, *args, extra=extra,
    stacklevel=stacklevel)`` does, for a level the caller checked.

    ``stacklevel`` makes logging walk the stack testing every frame for its
    own files (``logging._is_internal_frame``): a third of the cost of a
    retry's WARNING line. The frame is known here, so it is taken directly.
    """
    try:
        frame: Any = sys._getframe(stacklevel)  # 1 is the caller, as for logging
    except ValueError:  # pragma: no cover - the stack is never that shallow
        frame = None
    if frame is None:  # pragma: no cover
        filename, lineno, function = "(unknown file)", 0, "(unknown function)"
    else:
        filename, lineno, function = frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name
    LOGGER.handle(
        LOGGER.makeRecord(
            LOGGER.name, level, filename, lineno, message, args, None, function, extra
        )
    )


def _log(level: int, message: str, event: RetryDecided, *args: Any) -> None:
    _record(
        level,
        _STACKLEVEL + 2,
        "%s %s: " + message,
        (event.call.method, event.call.url, *args),
        _extra(event),
    )


def log_event(event: RetryDecided) -> None:
    """Write the log line a decision calls for (see the module's table)."""
    attempt = event.attempt
    response = attempt.response
    if response is not None:
        warning = header_value(response.headers, "Warning")
        if warning and LOGGER.isEnabledFor(logging.WARNING):
            _record(
                logging.WARNING,
                _STACKLEVEL,
                "%s %s: Warning header in the %s response: %s",
                (event.call.method, event.call.url, attempt.status, warning),
                _extra(event),
            )
    level = _level(event)
    if not LOGGER.isEnabledFor(level):
        return
    _write(event, level)


log_event.event_types = (RetryDecided,)  # type: ignore[attr-defined]


def _write(event: RetryDecided, level: int) -> None:
    attempt, reason = event.attempt, event.reason
    number, attempts = attempt.number, event.call.max_attempts
    if event.retry:
        _log(
            level,
            "attempt %d of %d failed (%s), retrying in %.3f s (%s)",
            event,
            number,
            attempts,
            _outcome(event),
            event.wait,
            event.wait_source,
        )
    elif reason is Reason.SUCCESS:
        _log(
            level,
            "%s on attempt %d of %d, in %.1f ms",
            event,
            _outcome(event),
            number,
            attempts,
            attempt.duration * 1000,
        )
    elif reason is Reason.FINAL_STATUS:
        _log(level, "%s, returned (attempt %d of %d)", event, _outcome(event), number, attempts)
    elif reason is Reason.DEADLINE and event.wait is None:
        _log(
            level,
            "attempt %d of %d failed (%s); the call's deadline passed before attempt %d "
            "could start, giving up",
            event,
            number,
            attempts,
            _outcome(event),
            number + 1,
        )
    elif reason is Reason.DEADLINE:
        _log(
            level,
            "attempt %d of %d failed (%s); a %.3f s wait would cross the call's deadline, "
            "giving up",
            event,
            number,
            attempts,
            _outcome(event),
            event.wait,
        )
    elif reason is Reason.BUDGET:
        _log(
            level,
            "attempt %d of %d failed (%s); the retry budget refuses a retry",
            event,
            number,
            attempts,
            _outcome(event),
        )
    else:
        why = _NOT_RETRIED.get(reason, reason.value).format(method=event.call.method)
        _log(
            level,
            "attempt %d of %d failed, %s: %s",
            event,
            number,
            attempts,
            why,
            _outcome(event),
        )


def _level(event: RetryDecided) -> int:
    reason = event.reason
    if event.retry:
        return logging.WARNING
    if reason is Reason.SUCCESS:
        return logging.INFO if event.attempt.number > 1 else logging.DEBUG
    if reason is Reason.FINAL_STATUS:
        return logging.DEBUG
    if reason is Reason.DONT_RETRY:
        status: Optional[int] = event.attempt.status
        return logging.DEBUG if status is not None and status < 500 else logging.WARNING
    return logging.WARNING

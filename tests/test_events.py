"""The stream of events every call emits (``sprockets_http.events``): each
event type, each decision reason, subscribers per process and per class, a
failing subscriber, and the testing mode."""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
import time
from typing import Any, List

import pytest
from conftest import Caller
from tornado import web

from sprockets_http import HTTPClientMixin, RetryBudget, events, testing
from sprockets_http.events import Reason
from sprockets_http.testing import Answer


@pytest.fixture
def upstream(scripted_upstream):
    """upstream(*answers, method="GET") scripts the answers to /items?page=1
    and gives its URL; at teardown, every answer must have been used."""

    def script(*answers, method="GET"):
        scripted_upstream.route(method, "/items", *answers, query="page=1")
        return f"{scripted_upstream.url}/items?page=1"

    return script


@pytest.fixture
def recorded():
    seen: List[Any] = []

    def record(event):
        if isinstance(event, events.AttemptStarted):
            # The headers are live: later attempts change the same mapping.
            event = event._replace(headers=dict(event.headers))
        seen.append(event)

    with events.subscribed(record):
        yield seen


def kinds(seen: List[Any]) -> List[str]:
    return [type(event).__name__ for event in seen]


def closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


async def test_a_503_503_200_call_as_events(upstream, caller, recorded):
    url = upstream(503, Answer(503, headers={"Retry-After": "2"}), 200)
    with testing.instant_retries() as waits:
        response = await caller.http_fetch(url)
    assert response.ok and waits == [3.0, 2.0]
    assert kinds(recorded) == [
        "CallStarted",
        "AttemptStarted",
        "AttemptEnded",
        "RetryDecided",
        "WaitStarted",
        "AttemptStarted",
        "AttemptEnded",
        "RetryDecided",
        "WaitStarted",
        "AttemptStarted",
        "AttemptEnded",
        "RetryDecided",
        "CallEnded",
    ]
    call = recorded[0].call
    assert all(event.call is call for event in recorded)
    assert (call.method, call.url, call.max_attempts, call.owner) == ("GET", url, 3, caller)
    started = [e for e in recorded if isinstance(e, events.AttemptStarted)]
    assert [e.number for e in started] == [1, 2, 3]
    assert started[1].headers["X-Retry-Attempt"] == "2"
    ended = [e for e in recorded if isinstance(e, events.AttemptEnded)]
    assert [(e.number, e.status, e.error, e.error_type) for e in ended] == [
        (1, 503, None, None),
        (2, 503, None, None),
        (3, 200, None, None),
    ]
    assert [e.reason_phrase for e in ended] == ["Service Unavailable"] * 2 + ["OK"]
    assert all(e.duration >= 0 and e.response is not None for e in ended)
    decided = [e for e in recorded if isinstance(e, events.RetryDecided)]
    assert [(e.retry, e.reason, e.wait, e.wait_source) for e in decided] == [
        (True, Reason.RETRYABLE_STATUS, 3.0, "backoff"),
        (True, Reason.RETRYABLE_STATUS, 2.0, "retry-after"),
        (False, Reason.SUCCESS, None, None),
    ]
    assert [e.attempt for e in decided] == ended
    waited = [e for e in recorded if isinstance(e, events.WaitStarted)]
    assert [(e.next_attempt, e.seconds, e.source, e.instant) for e in waited] == [
        (2, 3.0, "backoff", True),
        (3, 2.0, "retry-after", True),
    ]
    end = recorded[-1]
    assert end.response is response and end.reason is Reason.SUCCESS
    assert end.duration == response.duration >= 5.0  # the skipped waits count


def reasons(seen: List[Any]) -> List[Reason]:
    return [e.reason for e in seen if isinstance(e, events.RetryDecided)]


@pytest.mark.parametrize(
    "answers, options, expected",
    [
        ([404], {}, [Reason.FINAL_STATUS]),
        ([503], {"dont_retry": 503}, [Reason.DONT_RETRY]),
        (
            [503],
            {"method": "POST", "body": b"x", "retry_methods": "GET"},
            [Reason.METHOD_NOT_RETRIED],
        ),
        (
            [429, 429],
            {"method": "POST", "body": b"x", "retry_methods": "GET", "max_http_attempts": 2},
            [Reason.RETRYABLE_STATUS, Reason.ATTEMPTS_EXHAUSTED],
        ),
        (
            [503, 503],
            {"max_http_attempts": 2},
            [Reason.RETRYABLE_STATUS, Reason.ATTEMPTS_EXHAUSTED],
        ),
        ([503], {"total_timeout": 2}, [Reason.DEADLINE]),
        (
            [Answer(503, headers={"Retry-After": "1"})] * 3,
            {"total_timeout": 2.5, "max_http_attempts": 5},
            [Reason.RETRYABLE_STATUS, Reason.RETRYABLE_STATUS, Reason.DEADLINE],
        ),
    ],
)
async def test_each_decision_reason(upstream, caller, recorded, sleeps, answers, options, expected):
    url = upstream(*answers, method=options.get("method", "GET"))
    await caller.http_fetch(url, **options)
    assert reasons(recorded) == expected
    assert recorded[-1].reason is expected[-1]


async def test_the_deadline_refusal_names_the_wait_it_refused(upstream, caller, recorded, sleeps):
    await caller.http_fetch(upstream(503), total_timeout=2)
    (decided,) = [e for e in recorded if isinstance(e, events.RetryDecided)]
    assert (decided.retry, decided.wait, decided.wait_source) == (False, 3.0, "backoff")


async def test_the_budget_reason(upstream, recorded, sleeps):
    class Budgeted(HTTPClientMixin):
        RETRY_BUDGET = RetryBudget(ratio=0, min_per_second=0.1, ttl=10)  # one retry

    await Budgeted().http_fetch(upstream(503, 503))
    assert reasons(recorded) == [Reason.RETRYABLE_STATUS, Reason.BUDGET]


async def test_an_exception_is_the_error_reason(caller, recorded, sleeps):
    await caller.http_fetch(f"http://127.0.0.1:{closed_port()}/", max_http_attempts=2)
    ended = [e for e in recorded if isinstance(e, events.AttemptEnded)]
    assert all(e.status is None and e.response is None for e in ended)
    assert ended[0].error_type == "ConnectionRefusedError"
    assert ended[0].call.describe_error(ended[0].error).startswith("ConnectionRefusedError")
    assert reasons(recorded) == [Reason.ERROR, Reason.ATTEMPTS_EXHAUSTED]


async def test_events_never_carry_the_url_password(upstream, caller, recorded, sleeps):
    url = upstream(503).replace("http://", "http://user:hunter2@")
    await caller.http_fetch(url, max_http_attempts=1)
    assert "hunter2" not in recorded[0].call.url
    assert all("hunter2" not in repr(event.call) for event in recorded)


async def test_class_subscribers_see_only_their_class(upstream, sleeps):
    mine: List[Any] = []

    class Watched(HTTPClientMixin):
        HTTP_EVENT_SUBSCRIBERS = (mine.append,)

    url = upstream(200, 200)
    await Watched().http_fetch(url)
    await Caller().http_fetch(url)
    assert kinds(mine) == [
        "CallStarted",
        "AttemptStarted",
        "AttemptEnded",
        "RetryDecided",
        "CallEnded",
    ]


async def test_a_subscriber_gets_only_the_event_types_it_names(upstream, caller, sleeps):
    decided: List[Any] = []

    def only_decisions(event):
        decided.append(event)

    only_decisions.event_types = (events.RetryDecided,)
    with events.subscribed(only_decisions):
        await caller.http_fetch(upstream(503, 200))
    assert kinds(decided) == ["RetryDecided", "RetryDecided"]


async def test_a_failing_subscriber_is_logged_once_and_never_breaks_the_call(
    upstream, caller, sleeps, caplog
):
    def broken(event):
        raise RuntimeError("subscriber bug")

    caplog.set_level(logging.ERROR, logger="sprockets_http")
    with events.subscribed(broken):
        first = await caller.http_fetch(upstream(503, 200))
        second = await caller.http_fetch(upstream(200))
    assert first.ok and first.attempts == 2 and second.ok
    failures = [r for r in caplog.records if "subscriber" in r.getMessage()]
    assert len(failures) == 1
    assert failures[0].levelno == logging.ERROR and failures[0].exc_info is not None


def test_subscribe_twice_and_unsubscribe_are_safe():
    seen: List[Any] = []
    events.subscribe(seen.append)
    events.subscribe(seen.append)
    events.unsubscribe(seen.append)
    events.unsubscribe(seen.append)
    with pytest.raises(ValueError):
        events.subscribe("not callable")  # type: ignore[arg-type]


async def test_the_testing_mode_skips_waits_but_keeps_time(upstream, caller):
    loop = asyncio.get_running_loop()
    started = loop.time()
    with testing.instant_retries() as waits:
        response = await caller.http_fetch(upstream(503, 503, 503))
    assert waits == [3.0, 6.0] and response.waits == [3.0, 6.0]
    assert loop.time() - started < 9  # nothing slept for real (9 s of waits)
    assert response.duration >= 9.0  # but the call's clock moved on


async def test_the_testing_mode_makes_a_deadline_pass_as_if_waited(upstream, caller):
    with testing.instant_retries() as waits:
        response = await caller.http_fetch(upstream(503, 503), total_timeout=5)
    # 3 s waited (in the mode's clock); the 6 s wait would end after 5 s.
    assert waits == [3.0] and response.attempts == 2


async def test_advance_clock_moves_the_deadline(serve, caller):
    class Slow(web.RequestHandler):
        def get(self):
            testing.advance_clock(10)  # this attempt "took" 10 s
            self.set_status(503)

    url = serve([(r"/", Slow)]) + "/"
    with testing.instant_retries() as waits:
        response = await caller.http_fetch(url, total_timeout=8)
    assert response.attempts == 1 and waits == []
    with pytest.raises(RuntimeError):
        testing.advance_clock(1)


async def test_the_testing_mode_does_not_touch_other_sleeps():
    loop = asyncio.get_running_loop()
    with testing.instant_retries():
        started = loop.time()
        await asyncio.sleep(0.05)
        assert loop.time() - started >= 0.04


def test_a_builtin_subscriber_comes_first_once_and_only_with_builtins(monkeypatch):
    # The package registers its own subscribers (logging) this way at import.
    monkeypatch.setattr(events, "_builtin", ())
    monkeypatch.setattr(events, "_process", ())
    monkeypatch.setattr(events, "_version", 1)

    def builtin(event):
        pass

    def process_wide(event):
        pass

    def own(event):
        pass

    assert events.dispatch_for((own,)).call_started == (own,)
    events.subscribe(process_wide)
    assert events.dispatch_for((own,)).call_started == (process_wide, own)
    events._add_builtin(builtin)
    events._add_builtin(builtin)
    # A new set of subscribers: no Dispatch built before is reused.
    assert events.dispatch_for((own,)).call_started == (builtin, process_wide, own)
    assert events.dispatch_for((own,), builtins=False).call_started == (process_wide, own)


def test_without_opentelemetry_calls_are_not_traced(monkeypatch):
    monkeypatch.setitem(sys.modules, "opentelemetry.trace", None)  # import fails

    def own(event):
        pass

    for _ in range(2):  # the first call looks for opentelemetry, the next do not
        assert events.dispatch_for((own,), otel=True).call_ended == (own,)


def test_an_otel_module_that_cannot_be_imported_is_logged_once(monkeypatch, caplog):
    import sprockets_http

    monkeypatch.setitem(sys.modules, "sprockets_http.otel", None)  # import fails
    monkeypatch.delattr(sprockets_http, "otel", raising=False)
    caplog.set_level(logging.WARNING, logger="sprockets_http")

    def own(event):
        pass

    for _ in range(2):
        assert events.dispatch_for((own,), otel=True).call_started == (own,)
    [warning] = [record for record in caplog.records if record.name.startswith("sprockets_http")]
    assert warning.levelno == logging.WARNING
    assert warning.getMessage() == (
        "opentelemetry-api is installed, but sprockets_http.otel cannot be imported; "
        "calls are not traced"
    )
    assert warning.exc_info is not None and issubclass(warning.exc_info[0], ImportError)


class Unhashable:
    """A subscriber that cannot be a set member, and raises."""

    __hash__ = None  # type: ignore[assignment]

    def __init__(self, name: str) -> None:
        self.name = name

    def __eq__(self, other: object) -> bool:
        return self is other

    def __call__(self, event: Any) -> None:
        raise RuntimeError(self.name)

    def __repr__(self) -> str:
        return f"<{self.name}>"


async def test_each_failing_subscriber_is_logged_once_hashable_or_not(upstream, caller, caplog):
    def broken(event):
        raise RuntimeError("broken")

    first, second = Unhashable("first"), Unhashable("second")
    caplog.set_level(logging.ERROR, logger="sprockets_http")
    with events.subscribed(broken), events.subscribed(first), events.subscribed(second):
        response = await caller.http_fetch(upstream(200))
        again = await caller.http_fetch(upstream(200))
    assert response.ok and again.ok
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert [record.getMessage() for record in errors] == [
        f"Event subscriber {name} raised on CallStarted; it is kept, and its further "
        "errors are not logged"
        for name in (repr(broken), "<first>", "<second>")
    ]
    assert [str(record.exc_info[1]) for record in errors] == ["broken", "first", "second"]


async def test_after_a_retry_hook_moves_the_call_events_name_the_new_url(
    scripted_upstream, recorded, sleeps
):
    scripted_upstream.route("GET", "/first", 503)
    scripted_upstream.route("GET", "/moved", 200)

    class Moving(Caller):
        def _http_req_modify_for_retry(self, response, attempt, url, headers, body):
            return f"{scripted_upstream.url}/moved", headers, body

    response = await Moving().http_fetch(f"{scripted_upstream.url}/first")
    assert response.ok
    [ended] = [event for event in recorded if isinstance(event, events.CallEnded)]
    assert ended.call.url == f"{scripted_upstream.url}/moved"


async def test_after_a_retry_hook_changes_a_credential_both_stay_scrubbed(upstream, sleeps):
    texts: List[str] = []

    def describe(event):
        if isinstance(event, events.AttemptEnded):
            error = RuntimeError("tokens: OLD-s3cret NEW-s3cret")
            texts.append(event.call.describe_error(error))

    class Rotating(Caller):
        def _http_req_modify_for_retry(self, response, attempt, url, headers, body):
            return url, dict(headers, Authorization="Bearer NEW-s3cret"), body

    with events.subscribed(describe):
        response = await Rotating().http_fetch(
            upstream(503, 200), request_headers={"Authorization": "Bearer OLD-s3cret"}
        )
    assert response.ok and len(texts) == 2
    assert "OLD-s3cret" not in texts[0]
    assert "OLD-s3cret" not in texts[1] and "NEW-s3cret" not in texts[1]


async def test_credentials_changed_by_a_retry_hook_stay_scrubbed_when_first_described_later(
    upstream, sleeps
):
    # Nothing describes an error before the hook runs, and the hook changes
    # the header in the caller's own mapping: both the old credential and
    # the new one are still scrubbed from the second attempt's texts.
    texts: List[str] = []

    def describe(event):
        if isinstance(event, events.AttemptEnded) and event.number == 2:
            error = RuntimeError("tokens: OLD-s3cret NEW-s3cret")
            texts.append(event.call.describe_error(error))

    class Rotating(Caller):
        def _http_req_modify_for_retry(self, response, attempt, url, headers, body):
            headers["Authorization"] = "Bearer NEW-s3cret"
            return url, headers, body

    with events.subscribed(describe):
        response = await Rotating().http_fetch(
            upstream(503, 200), request_headers={"Authorization": "Bearer OLD-s3cret"}
        )
    assert response.ok
    assert texts == ["RuntimeError: tokens: [redacted] [redacted]"]


async def test_a_class_secret_parameter_is_scrubbed_from_error_texts(scripted_upstream, sleeps):
    texts: List[str] = []

    def describe(event):
        if isinstance(event, events.AttemptEnded):
            texts.append(event.call.describe_error(RuntimeError("bad signature 0ddValue")))

    class Signing(Caller):
        REDACT_QUERY_PARAMETERS = ("oddname",)

    scripted_upstream.route("GET", "/signed", 200, query="oddname=0ddValue")
    with events.subscribed(describe):
        response = await Signing().http_fetch(f"{scripted_upstream.url}/signed?oddname=0ddValue")
    assert response.ok
    assert texts == ["RuntimeError: bad signature [redacted]"]


@pytest.mark.parametrize("client_kind", ["curl"], indirect=True)
async def test_the_proxy_password_is_scrubbed_from_error_texts(client_kind, caller, sleeps):
    texts: List[str] = []

    def describe(event):
        if isinstance(event, events.AttemptEnded):
            texts.append(event.call.describe_error(RuntimeError("proxy said PX-s3cret")))

    with events.subscribed(describe):
        response = await caller.http_fetch(
            f"http://127.0.0.1:{closed_port()}/",
            proxy_host="127.0.0.1",
            proxy_port=closed_port(),
            proxy_username="user",
            proxy_password="PX-s3cret",
            max_http_attempts=1,
        )
    assert response.code == 599
    assert texts == ["RuntimeError: proxy said [redacted]"]


async def test_unsubscribing_one_subscriber_keeps_the_others(upstream, caller):
    first: List[Any] = []
    second: List[Any] = []
    events.subscribe(first.append)
    events.subscribe(second.append)
    try:
        await caller.http_fetch(upstream(200))
        events.unsubscribe(first.append)
        await caller.http_fetch(upstream(200))
    finally:
        events.unsubscribe(first.append)
        events.unsubscribe(second.append)
    assert kinds(first) == [
        "CallStarted",
        "AttemptStarted",
        "AttemptEnded",
        "RetryDecided",
        "CallEnded",
    ]
    assert kinds(second) == kinds(first) * 2


def test_a_subscriber_that_is_not_callable_is_named_in_the_error():
    with pytest.raises(ValueError, match=r"^a subscriber must be callable, not 'not callable'$"):
        events.subscribe("not callable")  # type: ignore[arg-type]


async def test_the_call_started_at_the_monotonic_time_of_the_call(upstream, caller, recorded):
    before = time.monotonic()
    await caller.http_fetch(upstream(200))
    after = time.monotonic()
    calls = {event.call for event in recorded}
    assert len(calls) == 1
    [call] = calls
    assert before <= call.started <= after


async def test_each_attempt_lasts_part_of_the_call(upstream, caller, recorded, sleeps):
    before = time.monotonic()
    response = await caller.http_fetch(upstream(503, 200))
    elapsed = time.monotonic() - before
    assert response.ok
    durations = [event.duration for event in recorded if isinstance(event, events.AttemptEnded)]
    assert len(durations) == 2
    # The wait of 3 s between them is skipped, not slept.
    assert all(0 <= duration <= elapsed for duration in durations)
    [ended] = [event for event in recorded if isinstance(event, events.CallEnded)]
    assert sum(durations) + 3.0 <= ended.duration

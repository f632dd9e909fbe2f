"""The opt-in resilience options of issue 3, each shown to change what happens.

``max_retry_timeout`` / ``MAX_RETRY_TIMEOUT``, ``retry_jitter`` /
``RETRY_JITTER``, ``total_timeout`` / ``DEFAULT_TOTAL_TIMEOUT``,
``retry_methods`` / ``RETRY_METHODS`` and ``RETRY_BUDGET``: for each, a call
with the option set against one without, on real loopback servers (``serve``),
with instant, recorded waits (``sleeps``). The last section shows that with no
option set the core behaviour is untouched.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import statistics
import sys
import threading
import time
from typing import Any, List, Optional

import pytest
from tornado import web

import sprockets_http
from sprockets_http import IDEMPOTENT_METHODS, HTTPClientMixin, HTTPResponse, RetryBudget, events
from sprockets_http.retry import RetryPolicy
from sprockets_http.testing import advance_clock


class Upstream(web.RequestHandler):
    """Answers every request with ``status`` (and ``Retry-After``), recording
    when each request arrived (monotonic clock)."""

    status = 503
    retry_after: Optional[str] = None
    arrivals: List[float]

    def _answer(self) -> None:
        self.arrivals.append(time.monotonic())
        self.set_status(self.status)
        if self.retry_after is not None:
            self.set_header("Retry-After", self.retry_after)
        if self.status < 300:
            self.write({"ok": True})

    get = post = put = delete = head = options = _answer


def upstream(serve, status: int = 503, retry_after: Optional[str] = None):
    handler = type(
        "Case", (Upstream,), {"status": status, "retry_after": retry_after, "arrivals": []}
    )
    return handler, serve([("/", handler)]) + "/"


def refused_url() -> tuple[socket.socket, str]:
    """A port that refuses connections: bound, never listening (keep the
    socket open while using the URL)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock, f"http://127.0.0.1:{sock.getsockname()[1]}/"


class Caller(HTTPClientMixin):
    pass


@pytest.fixture
def warnings_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.WARNING, logger="sprockets_http")
    return caplog


def warning_texts(caplog: pytest.LogCaptureFixture) -> List[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("sprockets_http") and r.levelno == logging.WARNING
    ]


# --- max_retry_timeout / MAX_RETRY_TIMEOUT ------------------------------------------


async def test_max_retry_timeout_caps_each_backoff_wait(serve, sleeps):
    handler, url = upstream(serve)
    response = await Caller().http_fetch(url, max_http_attempts=6, max_retry_timeout=10)
    assert response.attempts == len(handler.arrivals) == 6
    assert sleeps == [3, 6, 10, 10, 10]
    assert response.waits == sleeps


async def test_max_retry_timeout_class_attribute_and_argument(serve, sleeps):
    class Capped(Caller):
        MAX_RETRY_TIMEOUT = 4

    _handler, url = upstream(serve)
    await Capped().http_fetch(url, max_http_attempts=4)
    assert sleeps == [3, 4, 4]
    sleeps.clear()
    await Capped().http_fetch(url, max_http_attempts=4, max_retry_timeout=5)
    assert sleeps == [3, 5, 5]  # the argument wins over the class attribute
    sleeps.clear()
    instance = Capped()
    instance.MAX_RETRY_TIMEOUT = 1
    await instance.http_fetch(url, max_http_attempts=3)
    assert sleeps == [1, 1]  # read at call time, from the instance


async def test_max_retry_timeout_leaves_retry_after_alone(serve, sleeps):
    # The cap is on *computed backoff* waits; a Retry-After keeps its own
    # clamp, request_timeout.
    _handler, url = upstream(serve, retry_after="8")
    await Caller().http_fetch(url, max_retry_timeout=2)
    assert sleeps == [8, 8]


# --- retry_jitter / RETRY_JITTER -----------------------------------------------------


def test_jitter_draws_uniformly_within_zero_and_the_wait():
    policy = RetryPolicy(retry_timeout=1.0, jitter=True)
    plain = RetryPolicy(retry_timeout=1.0)
    for retry_number in range(1, 7):
        ceiling = plain.backoff(retry_number)
        draws = [policy.backoff(retry_number) for _ in range(2000)]
        assert all(0.0 <= d <= ceiling for d in draws)
        # Full jitter: the draws cover the range, with the mean near half.
        assert min(draws) < 0.05 * ceiling and max(draws) > 0.95 * ceiling
        assert 0.4 * ceiling < statistics.fmean(draws) < 0.6 * ceiling


def test_jitter_applies_after_the_cap():
    policy = RetryPolicy(retry_timeout=1.0, max_retry_timeout=2.0, jitter=True)
    draws = [policy.backoff(10) for _ in range(2000)]
    assert max(draws) <= 2.0 and max(draws) > 1.8


async def test_retry_jitter_changes_the_waits_of_a_call(serve, sleeps):
    _handler, url = upstream(serve)
    await Caller().http_fetch(
        url, max_http_attempts=40, retry_timeout=1, max_retry_timeout=1, retry_jitter=True
    )
    assert len(sleeps) == 39
    assert all(0 <= wait <= 1 for wait in sleeps)
    # Without jitter all 39 would be exactly 1; with it, each is below 0.5
    # with probability 1/2 (a spurious failure here has odds 2**-39).
    assert len(set(sleeps)) > 30 and min(sleeps) < 0.5


async def test_retry_jitter_class_attribute_uses_the_random_source(
    serve, sleeps, monkeypatch
):
    draws: List[tuple] = []

    def fake_uniform(low: float, high: float) -> float:
        draws.append((low, high))
        return high / 4

    monkeypatch.setattr(random, "uniform", fake_uniform)

    class Jittery(Caller):
        RETRY_JITTER = True

    _handler, url = upstream(serve)
    await Jittery().http_fetch(url, max_http_attempts=4)
    assert draws == [(0.0, 3.0), (0.0, 6.0), (0.0, 12.0)]
    assert sleeps == [0.75, 1.5, 3.0]
    sleeps.clear()
    await Jittery().http_fetch(url, max_http_attempts=3, retry_jitter=False)
    assert sleeps == [3, 6]  # the argument turns it off again


async def test_retry_after_waits_are_not_jittered(serve, sleeps):
    _handler, url = upstream(serve, retry_after="2")
    await Caller().http_fetch(url, max_http_attempts=20, retry_jitter=True)
    assert sleeps == [2.0] * 19


# --- total_timeout / DEFAULT_TOTAL_TIMEOUT -----------------------------------------------


class SlowUpstream(Upstream):
    """A 503 that "takes" one second of the call's clock (moved, not waited)."""

    def _answer(self) -> None:
        advance_clock(1)
        super()._answer()

    get = _answer


async def test_total_timeout_no_attempt_starts_after_the_deadline(serve, sleeps, warnings_log):
    # Each attempt takes a second of the call's clock and the waits are 0 s:
    # attempts start at 0, 1, 2 and 3 s; the one that would start at 4 s is
    # past the 3.5 s deadline.
    handler = type("Case", (SlowUpstream,), {"status": 503, "arrivals": []})
    url = serve([("/", handler)]) + "/"
    response = await Caller().http_fetch(
        url, max_http_attempts=100, retry_timeout=0, total_timeout=3.5
    )
    assert isinstance(response, HTTPResponse)
    assert response.attempts == len(handler.arrivals) == len(response.history) == 4
    assert response.exceptions == [] and sleeps == [0, 0, 0]
    assert 4.0 <= response.duration < 14.0  # the clock moved by 4 s; wall time is small
    assert response.code == 503 and all(r.code == 503 for r in response.history)
    assert any("deadline" in text for text in warning_texts(warnings_log))


async def test_a_wait_that_overruns_does_not_start_an_attempt_after_the_deadline(
    serve, sleeps, warnings_log
):
    # A busy event loop wakes a sleeper late. Here the wait of 4 s (the first
    # backoff) fits the 10 s deadline when it starts, but the clock moves 7 s
    # more while it runs: it ends after the deadline, so no second attempt
    # may start.
    decided: List[events.RetryDecided] = []

    def overrun(event: Any) -> None:
        if isinstance(event, events.WaitStarted):
            advance_clock(7)
        else:
            decided.append(event)

    overrun.event_types = (events.WaitStarted, events.RetryDecided)  # type: ignore[attr-defined]
    handler, url = upstream(serve)
    with events.subscribed(overrun):
        response = await Caller().http_fetch(url, retry_timeout=4, total_timeout=10)
    assert response.attempts == len(handler.arrivals) == 1
    assert response.waits == [4.0] and sleeps == [4.0]
    # The retry decided before the wait, then the stop after it.
    assert [(d.retry, d.reason) for d in decided] == [
        (True, events.Reason.RETRYABLE_STATUS),
        (False, events.Reason.DEADLINE),
    ]
    assert decided[1].retry is False and decided[1].wait is None
    assert any("deadline passed before attempt 2" in text for text in warning_texts(warnings_log))


async def test_total_timeout_cuts_each_attempts_timeouts(serve, sleeps):
    _handler, url = upstream(serve)
    response = await Caller().http_fetch(url, total_timeout=5, retry_timeout=0)
    assert response.attempts == 3
    requests = [r.request for r in response.history]
    # The defaults are 20 s; each attempt got no more than the time left.
    assert all(r.connect_timeout <= 5 and r.request_timeout <= 5 for r in requests)
    assert requests[0].request_timeout >= requests[1].request_timeout >= requests[2].request_timeout
    assert requests[0].connect_timeout >= requests[1].connect_timeout >= requests[2].connect_timeout


async def test_the_last_attempt_before_the_deadline_gets_only_the_time_left(serve, sleeps):
    class HalfSecond(Upstream):
        """A 503 that "takes" half a second of the call's clock."""

        def _answer(self) -> None:
            advance_clock(0.5)
            super()._answer()

        get = _answer

    handler = type("Case", (HalfSecond,), {"status": 503, "arrivals": []})
    url = serve([("/", handler)]) + "/"
    response = await Caller().http_fetch(
        url, total_timeout=3.5, retry_timeout=0, max_http_attempts=100
    )
    # Up to 7 attempts (at 0, 0.5, ... 3.0 s, plus the real time they took).
    attempts = response.attempts
    assert 2 <= attempts <= 7
    last = response.history[-1].request
    # At least (attempts - 1) * 0.5 s had passed when the last one started.
    assert 0 < last.request_timeout <= 3.5 - (attempts - 1) * 0.5
    assert 0 < last.connect_timeout <= 3.5 - (attempts - 1) * 0.5


async def test_total_timeout_ends_an_attempt_that_would_outlive_it(
    caller, sleeps, client_kind, warnings_log
):
    # A server that accepts and never answers: the attempt's 30 s timeouts
    # are cut to the 1 s left, and the call ends there. (A real client
    # timeout: the bounds are generous, and still far from 30 s.)
    held: List[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    try:
        port = server.sockets[0].getsockname()[1]
        started = time.monotonic()
        response = await caller.http_fetch(
            f"http://127.0.0.1:{port}/",
            connect_timeout=30,
            request_timeout=30,
            retry_timeout=0,
            total_timeout=1,
        )
        elapsed = time.monotonic() - started
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()
    assert isinstance(response, HTTPResponse)
    assert 0.9 <= elapsed < 20
    assert response.history == [] and response.code == 599
    assert response.attempts == len(response.exceptions) >= 1
    assert "timeout" in str(response.exceptions[0]).lower() or "timed out" in str(
        response.exceptions[0]
    )
    assert any("deadline" in text for text in warning_texts(warnings_log))


async def test_retry_after_crossing_the_deadline_ends_the_call_at_once(
    serve, sleeps, warnings_log
):
    handler, url = upstream(serve, retry_after="5")
    response = await Caller().http_fetch(url, total_timeout=2)
    assert sleeps == []  # no wait at all, not one cut short
    assert response.attempts == len(handler.arrivals) == 1
    assert response.code == 503 and response.waits == []
    assert response.duration < 5  # the call's clock: no 5 s wait
    assert any("deadline" in text for text in warning_texts(warnings_log))


async def test_backoff_crossing_the_deadline_ends_the_call(serve, sleeps):
    handler, url = upstream(serve)
    response = await Caller().http_fetch(url, total_timeout=5)  # waits 3, then 6
    assert sleeps == [3]
    assert response.attempts == len(handler.arrivals) == 2
    # Without the deadline, the same call waits 3 then 6.
    sleeps.clear()
    await Caller().http_fetch(url)
    assert sleeps == [3, 6]


async def test_retry_after_within_the_deadline_is_waited(serve, sleeps):
    _handler, url = upstream(serve, retry_after="1")
    response = await Caller().http_fetch(url, total_timeout=30)
    assert sleeps == [1, 1] and response.attempts == 3


async def test_default_total_timeout_class_attribute(serve, sleeps):
    class Hurried(Caller):
        DEFAULT_TOTAL_TIMEOUT = 2

    handler, url = upstream(serve, retry_after="5")
    response = await Hurried().http_fetch(url)
    assert response.attempts == 1 and sleeps == []
    response = await Hurried().http_fetch(url, total_timeout=60)
    assert response.attempts == 3 and sleeps == [5, 5]


# --- retry_methods / RETRY_METHODS ---------------------------------------------------------


def test_idempotent_methods_are_exported():
    assert sprockets_http.IDEMPOTENT_METHODS == frozenset(
        {"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"}
    )


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_post_is_not_retried_after_a_5xx(serve, sleeps, warnings_log, status):
    handler, url = upstream(serve, status=status)
    response = await Caller().http_fetch(
        url, method="POST", body={"a": 1}, retry_methods=IDEMPOTENT_METHODS
    )
    assert response.attempts == len(handler.arrivals) == 1
    assert response.code == status and sleeps == []
    assert any("not retried" in text for text in warning_texts(warnings_log))
    # The same call without the option is retried, as the core does.
    response = await Caller().http_fetch(url, method="POST", body={"a": 1})
    assert response.attempts == 3


async def test_post_is_not_retried_after_a_connection_error(sleeps):
    sock, url = refused_url()
    with sock:
        response = await Caller().http_fetch(
            url, method="POST", body=b"x", retry_methods=IDEMPOTENT_METHODS
        )
        assert response.attempts == len(response.exceptions) == 1 and sleeps == []
        response = await Caller().http_fetch(url, method="POST", body=b"x")
        assert response.attempts == 3


@pytest.mark.parametrize("status", [423, 429])
async def test_post_is_retried_after_a_refusal(serve, sleeps, status):
    handler, url = upstream(serve, status=status)
    response = await Caller().http_fetch(
        url, method="POST", body={"a": 1}, retry_methods=IDEMPOTENT_METHODS
    )
    assert response.attempts == len(handler.arrivals) == 3
    assert sleeps == [3, 6]


@pytest.mark.parametrize("method", sorted(IDEMPOTENT_METHODS - {"TRACE"}))
async def test_listed_methods_are_still_retried(serve, sleeps, method):
    handler, url = upstream(serve)
    body = b"x" if method == "PUT" else None
    response = await Caller().http_fetch(
        url, method=method, body=body, retry_methods=IDEMPOTENT_METHODS
    )
    assert response.attempts == len(handler.arrivals) == 3


async def test_retry_methods_class_attribute(serve, sleeps):
    class OnlyGet(Caller):
        RETRY_METHODS = ("get",)  # names are compared case-insensitively

    handler, url = upstream(serve)
    assert (await OnlyGet().http_fetch(url, method="PUT", body=b"x")).attempts == 1
    assert (await OnlyGet().http_fetch(url)).attempts == 3
    assert (
        await OnlyGet().http_fetch(url, method="PUT", body=b"x", retry_methods={"PUT"})
    ).attempts == 3


# --- RETRY_BUDGET -------------------------------------------------------------------------


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_budget_allows_ratio_times_firsts_plus_the_floor():
    clock = FakeClock()
    budget = RetryBudget(ratio=0.2, min_per_second=1.0, ttl=10.0, clock=clock)
    for _ in range(50):
        budget.record_first_attempt()
    granted = 0
    while budget.try_retry():
        granted += 1
        assert granted <= 1000
    assert granted == 0.2 * 50 + 1.0 * 10  # 20
    assert budget.available == 0
    # One more first attempt earns 0.2 of a retry: still not a whole one.
    budget.record_first_attempt()
    assert not budget.try_retry()
    for _ in range(4):
        budget.record_first_attempt()
    assert budget.try_retry()  # 55 firsts: 11 + 10 = 21 retries


def test_budget_forgets_what_is_older_than_ttl():
    clock = FakeClock()
    budget = RetryBudget(ratio=0.0, min_per_second=0.5, ttl=10.0, clock=clock)
    assert [budget.try_retry() for _ in range(6)] == [True] * 5 + [False]
    clock.now += 5
    assert not budget.try_retry()  # the five retries are still in the window
    clock.now += 6
    assert [budget.try_retry() for _ in range(6)] == [True] * 5 + [False]


def test_budget_rejects_nonsense():
    for kwargs in ({"ratio": -1}, {"min_per_second": -0.1}, {"ttl": 0}, {"ttl": float("inf")}):
        with pytest.raises(ValueError):
            RetryBudget(**kwargs)


async def test_budget_shared_by_two_classes_refuses_retries(serve, sleeps, warnings_log):
    clock = FakeClock()
    # 0.5 retries per first attempt, plus a floor of 0.1/s * 10 s = 1 retry.
    budget = RetryBudget(ratio=0.5, min_per_second=0.1, ttl=10, clock=clock)

    class Orders(Caller):
        RETRY_BUDGET = budget

    class Payments(Caller):
        RETRY_BUDGET = budget

    handler, url = upstream(serve)
    # firsts=1: 0.5 + 1 = 1.5 -> one retry
    first = await Orders().http_fetch(url)
    # firsts=2: 1 + 1 = 2, one used -> one retry
    second = await Payments().http_fetch(url)
    # firsts=3: 1.5 + 1 = 2.5, two used -> none
    third = await Orders().http_fetch(url)
    assert [r.attempts for r in (first, second, third)] == [2, 2, 1]
    assert len(handler.arrivals) == 5
    for response in (first, second, third):
        # The call returns its last outcome.
        assert isinstance(response, HTTPResponse)
        assert response.code == 503 and all(r.code == 503 for r in response.history)
    refusals = [
        r for r in warnings_log.records
        if r.levelno == logging.WARNING and "retry budget" in r.getMessage()
    ]
    assert len(refusals) == 3
    assert sleeps == [3, 3]
    # Once the window has moved on, the budget is whole again.
    clock.now += 11
    assert (await Payments().http_fetch(url)).attempts == 2
    # A class without the budget is not limited.
    assert (await Caller().http_fetch(url)).attempts == 3


async def test_budget_refusal_after_a_connection_error_returns_it(sleeps, warnings_log):
    clock = FakeClock()

    class Tight(Caller):
        RETRY_BUDGET = RetryBudget(ratio=0, min_per_second=0, ttl=1, clock=clock)

    sock, url = refused_url()
    with sock:
        response = await Tight().http_fetch(url)
    assert response.attempts == len(response.exceptions) == 1
    assert isinstance(response.exceptions[0], OSError) and response.code == 599
    assert any("retry budget" in text for text in warning_texts(warnings_log))


def test_budget_is_thread_safe():
    # Switch threads as often as possible so unlocked read-modify-writes
    # would interleave.
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        clock = FakeClock()
        budget = RetryBudget(ratio=0.25, min_per_second=1.0, ttl=10.0, clock=clock)
        threads, per_thread = 8, 4000
        barrier = threading.Barrier(threads)

        def record() -> None:
            barrier.wait()
            for _ in range(per_thread):
                budget.record_first_attempt()

        workers = [threading.Thread(target=record) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        # Every first attempt was counted: 32000 * 0.25 + 10 = 8010.
        assert budget.available == 8010

        granted: List[int] = []

        def take() -> None:
            barrier.wait()
            mine = 0
            for _ in range(2000):
                if budget.try_retry():
                    mine += 1
            granted.append(mine)

        workers = [threading.Thread(target=take) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    finally:
        sys.setswitchinterval(previous)
    # 16000 tries for 8010 retries: exactly the budget was handed out.
    assert sum(granted) == 8010
    assert budget.available == 0


def test_budget_memory_is_bounded():
    clock = FakeClock(0.0)
    budget = RetryBudget(ratio=0.2, min_per_second=1.0, ttl=10.0, clock=clock)
    rng = random.Random(7)
    longest = 0
    for operation in range(100_000):
        # Bursts, idle gaps and long jumps: about 2.5 days of fake time.
        clock.now += rng.choice((0.0, 0.001, 0.05, 0.5, 3.0, 30.0))
        if operation % 3:
            budget.record_first_attempt()
        else:
            budget.try_retry()
        longest = max(longest, len(budget._slices))
    assert clock.now > 100_000
    assert longest <= 11


# --- no option set: the core behaviour -------------------------------------------------------


def test_option_defaults_are_off():
    assert HTTPClientMixin.MAX_RETRY_TIMEOUT is None
    assert HTTPClientMixin.RETRY_JITTER is False
    assert HTTPClientMixin.DEFAULT_TOTAL_TIMEOUT is None
    assert HTTPClientMixin.RETRY_METHODS is None
    assert HTTPClientMixin.RETRY_BUDGET is None


async def test_without_options_the_core_rules_hold(serve, sleeps):
    handler, url = upstream(serve)
    response = await Caller().http_fetch(url, max_http_attempts=8, method="POST", body=b"x")
    # Uncapped, unjittered doubling; POST retried after a 503; no deadline.
    assert sleeps == [3, 6, 12, 24, 48, 96, 192]
    assert response.attempts == len(handler.arrivals) == 8
    request = response.history[0].request
    assert request.connect_timeout == 20 and request.request_timeout == 20


async def test_without_a_budget_many_calls_all_retry(serve, sleeps):
    handler, url = upstream(serve)
    results = await asyncio.gather(*(Caller().http_fetch(url) for _ in range(40)))
    assert [r.attempts for r in results] == [3] * 40
    assert len(handler.arrivals) == 120


async def test_without_options_retry_after_is_clamped_only_by_request_timeout(serve, sleeps):
    _handler, url = upstream(serve, retry_after="19")
    await Caller().http_fetch(url)
    assert sleeps == [19, 19]

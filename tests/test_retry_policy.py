"""Unit tests of ``sprockets_http.retry``: the decision table (point 6) and
the waits (point 7), with no I/O."""

from __future__ import annotations

import email.utils

import pytest

from sprockets_http.retry import Decision, RetryPolicy

NOW = 1_700_000_000.0  # a fixed "now", seconds since the epoch


def http_date(offset: float) -> str:
    return email.utils.formatdate(NOW + offset, usegmt=True)


# --- decide ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code, expected",
    [
        (200, Decision.SUCCESS),
        (201, Decision.SUCCESS),
        (204, Decision.SUCCESS),
        (301, Decision.SUCCESS),
        (304, Decision.SUCCESS),
        (399, Decision.SUCCESS),
        (400, Decision.FINAL),
        (401, Decision.FINAL),
        (404, Decision.FINAL),
        (409, Decision.FINAL),
        (422, Decision.FINAL),
        (499, Decision.FINAL),
        (423, Decision.RETRY),
        (429, Decision.RETRY),
        (500, Decision.RETRY),
        (502, Decision.RETRY),
        (503, Decision.RETRY),
        (504, Decision.RETRY),
        (599, Decision.RETRY),
        (None, Decision.RETRY),  # an exception
    ],
)
def test_decide_table(code, expected):
    assert RetryPolicy().decide("GET", code) is expected


@pytest.mark.parametrize("code", [423, 429, 500, 503, 404])
def test_dont_retry_stops(code):
    policy = RetryPolicy(dont_retry={code})
    assert policy.decide("GET", code) is Decision.STOP


def test_dont_retry_does_not_turn_success_into_stop():
    policy = RetryPolicy(dont_retry={200, 302})
    assert policy.decide("GET", 200) is Decision.SUCCESS
    assert policy.decide("GET", 302) is Decision.SUCCESS


@pytest.mark.parametrize("method", ["GET", "POST", "PATCH", "DELETE"])
def test_every_method_is_retried_by_default(method):
    policy = RetryPolicy()
    assert policy.decide(method, 503) is Decision.RETRY
    assert policy.decide(method, None) is Decision.RETRY


# --- backoff -------------------------------------------------------------------------


def test_backoff_doubles_from_retry_timeout():
    policy = RetryPolicy(retry_timeout=3)
    assert [policy.backoff(n) for n in (1, 2, 3, 4, 5)] == [3, 6, 12, 24, 48]


def test_backoff_with_fractional_retry_timeout():
    policy = RetryPolicy(retry_timeout=0.25)
    assert [policy.backoff(n) for n in (1, 2, 3)] == [0.25, 0.5, 1.0]


def test_backoff_zero_retry_timeout_means_no_wait():
    policy = RetryPolicy(retry_timeout=0)
    assert [policy.backoff(n) for n in (1, 2, 3)] == [0, 0, 0]


def test_backoff_huge_retry_number_does_not_overflow():
    wait = RetryPolicy(retry_timeout=1).backoff(5000)
    assert wait > 0 and wait != float("inf")


def test_backoff_is_not_clamped_to_request_timeout():
    policy = RetryPolicy(retry_timeout=10, request_timeout=1)
    assert policy.backoff(2) == 20


# --- wait: Retry-After first, the backoff otherwise -------------------------------------------


def test_wait_prefers_retry_after():
    policy = RetryPolicy(retry_timeout=3, request_timeout=20)
    wait = policy.wait(1, "9", now=NOW)
    assert wait.seconds == 9 and wait.from_retry_after


def test_wait_clamps_retry_after_to_request_timeout():
    policy = RetryPolicy(retry_timeout=3, request_timeout=4)
    assert policy.wait(1, "60", now=NOW).seconds == 4
    assert policy.wait(1, http_date(3600), now=NOW).seconds == 4


@pytest.mark.parametrize("retry_after", [None, "garbage", ""])
def test_wait_falls_back_to_backoff(retry_after):
    policy = RetryPolicy(retry_timeout=3)
    waits = [policy.wait(n, retry_after, now=NOW) for n in (1, 2, 3)]
    assert [w.seconds for w in waits] == [3, 6, 12]
    assert not any(w.from_retry_after for w in waits)


def test_a_single_method_string_is_one_method():
    policy = RetryPolicy(retry_methods="get")
    assert policy.retry_methods == frozenset({"GET"})
    assert policy.decide("GET", 503) is Decision.RETRY
    assert policy.decide("POST", 503) is Decision.FINAL

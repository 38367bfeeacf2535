"""Retry classification and waits (plain Python, no server)."""

from __future__ import annotations

import email.utils
import time

import pytest
import requests
import tenacity

from airflow_provider_hisham.api.retry import (
    AMBIGUOUS,
    NOT_PROCESSED,
    RetryableResponse,
    RetryPolicy,
    classify,
    parse_retry_after,
)


def _response(status: int, retry_after: str | None = None) -> requests.Response:
    resp = requests.Response()
    resp.status_code = status
    if retry_after is not None:
        resp.headers["Retry-After"] = retry_after
    return resp


@pytest.mark.parametrize(("status", "kind"), [(429, NOT_PROCESSED), (503, NOT_PROCESSED), (502, AMBIGUOUS),
                                              (504, AMBIGUOUS), (500, None)])
def test_statuses(status, kind):
    assert classify(RetryableResponse(_response(status))) == kind


def test_connection_errors_before_and_after_sending():
    refused = requests.ConnectionError(ConnectionRefusedError(111, "Connection refused"))
    assert classify(refused) == NOT_PROCESSED
    assert classify(requests.ConnectTimeout()) == NOT_PROCESSED
    assert classify(requests.ConnectionError(ConnectionResetError(104, "reset"))) == AMBIGUOUS
    assert classify(requests.ReadTimeout()) == AMBIGUOUS
    assert classify(ValueError()) is None


def test_only_idempotent_requests_are_retried_after_ambiguous_failures():
    policy = RetryPolicy()
    reset = requests.ConnectionError(ConnectionResetError())
    assert policy.may_retry(reset, idempotent=True) and not policy.may_retry(reset, idempotent=False)
    throttled = RetryableResponse(_response(429))
    assert policy.may_retry(throttled, idempotent=False)


def test_parse_retry_after_seconds_and_http_date():
    assert parse_retry_after("7") == 7.0 and parse_retry_after(None) is None and parse_retry_after("soon") is None
    now = time.time()
    assert 9 <= parse_retry_after(email.utils.formatdate(now + 10, usegmt=True), now=now) <= 10.01


def test_backoff_grows_with_jitter_and_is_capped():
    policy = RetryPolicy(base=1.0, cap=8.0)
    for attempt, step in ((1, 1.0), (2, 2.0), (3, 4.0), (6, 8.0)):
        waits = {policy.backoff(attempt) for _ in range(50)}
        assert all(step / 2 <= w <= step for w in waits) and len(waits) > 1


def test_wait_honours_retry_after_and_stops_within_the_deadline():
    sleeps: list[float] = []
    policy = RetryPolicy(max_attempts=5, deadline=10.0, base=0.01)
    calls = iter([_response(429, "2"), _response(429, "3"), _response(200)])

    def attempt():
        resp = next(calls)
        if resp.status_code == 429:
            raise RetryableResponse(resp)
        return resp

    assert policy.retrying(idempotent=False, sleep=sleeps.append)(attempt).status_code == 200
    assert 2 <= sleeps[0] <= 2.2 and 3 <= sleeps[1] <= 3.3
    with pytest.raises(RetryableResponse):  # 30 s would pass the deadline: give up without sleeping
        RetryPolicy(deadline=10.0).retrying(idempotent=True, sleep=sleeps.append)(
            lambda: (_ for _ in ()).throw(RetryableResponse(_response(429, "30"))))
    assert len(sleeps) == 2
    assert isinstance(policy.retrying(idempotent=True), tenacity.Retrying)


def test_the_policy_carries_its_sleep_so_a_hook_waits_through_it():
    sleeps: list[float] = []
    policy = RetryPolicy(max_attempts=3, deadline=10.0, base=0.01, sleep=sleeps.append)
    with pytest.raises(RetryableResponse):
        policy.retrying(idempotent=True)(lambda: (_ for _ in ()).throw(RetryableResponse(_response(503))))
    assert len(sleeps) == 2  # 3 attempts, both waits through the policy's sleep, none on the clock
    assert policy == RetryPolicy(max_attempts=3, deadline=10.0, base=0.01)  # the seam is not part of the value

"""Behaviours sprockets.mixins.http 2.6.0 callers rely on (issue 9, section 2),
each checked against a real upstream on loopback."""

from __future__ import annotations

import collections
import datetime
import json
import types
from typing import Any, Dict, List

import pytest
import umsgpack
from conftest import Caller
from ietfparse import datastructures
from tornado import web

import sprockets_http
from sprockets_http import HTTPClientMixin, HTTPResponse


class Recorder(web.RequestHandler):
    seen: List[Dict[str, Any]] = []

    def _record(self) -> None:
        type(self).seen.append(
            {
                "method": self.request.method,
                "content_type": self.request.headers.get("Content-Type"),
                "user_agent": self.request.headers.get("User-Agent"),
                "body": self.request.body,
            }
        )
        self.write({"ok": True})

    get = post = put = _record


@pytest.fixture
def upstream(serve):
    Recorder.seen = []
    return serve([(r"/.*", Recorder)]) + "/"


class Arrowish:
    """Like arrow.Arrow: not a datetime, but has isoformat()."""

    def isoformat(self) -> str:
        return "2021-03-04T05:06:07+00:00"


VALUES = {
    "deque": (collections.deque([1, 2, 3]), [1, 2, 3]),
    "mapping-proxy": (types.MappingProxyType({"a": 1}), {"a": 1}),
    "dict-keys": ({"x": 1, "y": 2}.keys(), ["x", "y"]),
    "range": (range(3), [0, 1, 2]),
    "frozenset": (frozenset({7}), [7]),
    "isoformat": (Arrowish(), "2021-03-04T05:06:07+00:00"),
    "date": (datetime.date(2020, 1, 2), "2020-01-02"),
    "nested": ({"items": collections.deque([{"k": range(2)}])}, {"items": [{"k": [0, 1]}]}),
}


@pytest.mark.parametrize("content_type", ["application/json", "application/msgpack"])
@pytest.mark.parametrize("name", sorted(VALUES))
async def test_mappings_sequences_sets_and_isoformat_values_are_encoded(
    caller, upstream, content_type, name
):
    value, expected = VALUES[name]
    response = await caller.http_fetch(
        upstream, method="POST", body={"value": value}, content_type=content_type
    )
    assert response.ok
    (seen,) = Recorder.seen
    raw = seen["body"]
    decoded = json.loads(raw) if content_type.endswith("json") else umsgpack.unpackb(raw)
    assert decoded == {"value": expected}


class StringMinded(HTTPClientMixin):
    """An override written for 2.6.0: content_type is a str, and only with a body."""

    def __init__(self) -> None:
        super().__init__()
        self.serialized: List[Any] = []

    def _http_req_body_serialize(self, body: Any, content_type: Any) -> Any:
        self.serialized.append(content_type)
        if content_type.startswith("application/json"):
            return json.dumps(body).encode()
        return super()._http_req_body_serialize(body, content_type)


async def test_body_serialize_is_called_only_with_a_body_and_a_str(upstream):
    client = StringMinded()
    assert (await client.http_fetch(upstream)).ok  # a GET: not called
    assert client.serialized == []
    response = await client.http_fetch(
        upstream,
        method="POST",
        body={"a": 1},
        content_type=datastructures.ContentType("application", "json"),
    )
    assert response.ok and client.serialized == ["application/json"]
    assert type(client.serialized[0]) is str
    assert json.loads(Recorder.seen[-1]["body"]) == {"a": 1}


async def test_body_serialize_gets_the_request_content_type_header(upstream):
    client = StringMinded()
    await client.http_fetch(
        upstream,
        method="PUT",
        body={"a": 1},
        request_headers={"content-type": "application/json; charset=utf-8"},
    )
    assert client.serialized == ["application/json; charset=utf-8"]


def test_module_level_names_of_2_6_0():
    assert sprockets_http.AVAILABLE_CONTENT_TYPES == [
        sprockets_http.CONTENT_TYPE_JSON,
        sprockets_http.CONTENT_TYPE_MSGPACK,
    ]
    assert str(sprockets_http.AVAILABLE_CONTENT_TYPES[0]) == "application/json"
    assert sprockets_http.CONTENT_TYPE_SUFFIX_JSON == "json"
    assert sprockets_http.CONTENT_TYPE_SUFFIX_MSGPACK == "msgpack"
    assert sprockets_http.DEFAULT_ACCEPT == "application/json, application/msgpack"


class OwnDefaults(HTTPClientMixin):
    """Overrides the default headers without calling super()."""

    def _http_req_apply_default_headers(self, request_headers, content_type, body):
        headers = dict(request_headers or {})
        headers["X-Team"] = "payments"
        return headers


async def test_an_override_of_the_default_headers_keeps_the_derived_user_agent(upstream):
    response = await OwnDefaults().http_fetch(upstream)
    assert response.ok
    assert Recorder.seen[-1]["user_agent"] == sprockets_http.DEFAULT_USER_AGENT


async def test_user_agent_argument_beats_everything(upstream):
    await OwnDefaults().http_fetch(upstream, user_agent="me/1")
    await Caller().http_fetch(upstream, user_agent="me/2", request_headers={"user-agent": "x/0"})
    assert [s["user_agent"] for s in Recorder.seen] == ["me/1", "me/2"]


async def test_attributes_can_be_attached_to_a_response(caller, upstream):
    response = await caller.http_fetch(upstream)
    response.upstream_name = "users"
    assert response.upstream_name == "users"
    fresh = HTTPResponse()
    fresh.note = 1
    assert fresh.note == 1 and fresh.attempts == 0


async def test_the_decoded_body_is_one_cached_object(caller, upstream):
    # Documented in the migration guide: 2.6.0 decoded anew on every read.
    response = await caller.http_fetch(upstream)
    first = response.body
    first["ok"] = "changed"
    assert response.body is first and response.body["ok"] == "changed"

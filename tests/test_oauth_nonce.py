"""An OAuth 1-style client: ``_http_req_modify_for_retry`` re-signs every
retry with a fresh nonce (point 6, the documented use of the hook).

The server refuses (401, which is not retried) any nonce it has seen, and
answers 503 to the first two fresh ones. So the call only succeeds when the
hook is called before every retry and really puts a new nonce on the wire.
"""

from __future__ import annotations

import re

import pytest
from conftest import Caller
from oauthlib import oauth1
from tornado import web

from sprockets_http import HTTPClientMixin

_NONCE = re.compile(r'oauth_nonce="([^"]+)"')


class NonceServer:
    def __init__(self, failures_before_success: int = 2):
        self.failures = failures_before_success
        self.seen: list = []
        self.replayed: list = []
        self.requests: list = []

    def routes(self):
        server = self

        class Protected(web.RequestHandler):
            SUPPORTED_METHODS = ("GET", "POST")

            def _check(self):
                server.requests.append(self.request)
                match = _NONCE.search(self.request.headers.get("Authorization", ""))
                if match is None:
                    self.set_status(401)
                    self.write({"message": "no OAuth nonce"})
                    return
                nonce = match.group(1)
                if nonce in server.seen:
                    server.replayed.append(nonce)
                    self.set_status(401)
                    self.write({"message": f"nonce {nonce} was already used"})
                    return
                server.seen.append(nonce)
                if len(server.seen) <= server.failures:
                    self.set_status(503)
                    return
                self.write({"granted": True, "nonce": nonce})

            get = post = _check

        return [(r"/.*", Protected)]


class OAuth1Caller(HTTPClientMixin):
    """Signs each attempt with OAuth 1 (HMAC-SHA1): a fresh nonce and
    timestamp every time."""

    def __init__(self):
        super().__init__()
        self.oauth = oauth1.Client("client-key", client_secret="client-secret")
        self.signed_nonces: list = []
        self.hook_calls: list = []
        self._method = "GET"

    def _sign(self, url, headers):
        headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
        _uri, signed, _body = self.oauth.sign(url, http_method=self._method, headers=headers)
        self.signed_nonces.append(_NONCE.search(signed["Authorization"]).group(1))
        return signed

    async def signed_fetch(self, url, method="GET", request_headers=None, **kwargs):
        self._method = method
        headers = self._sign(url, dict(request_headers or {}))
        return await self.http_fetch(url, method=method, request_headers=headers, **kwargs)

    def _http_req_modify_for_retry(self, response, attempt, url, headers, body):
        self.hook_calls.append(attempt)
        url, headers, body = super()._http_req_modify_for_retry(
            response, attempt, url, headers, body
        )
        return url, self._sign(url, headers), body


@pytest.fixture
def nonce_server(serve):
    server = NonceServer()
    server.url = serve(server.routes()) + "/protected"
    return server


async def test_every_attempt_carries_a_fresh_nonce(nonce_server, sleeps, client_kind):
    client = OAuth1Caller()
    response = await client.signed_fetch(nonce_server.url)
    assert response.code == 200, response.body
    assert response.ok
    assert response.attempts == 3
    assert [r.code for r in response.history] == [503, 503, 200]
    assert nonce_server.replayed == []
    assert len(set(nonce_server.seen)) == 3
    assert nonce_server.seen == client.signed_nonces
    assert client.hook_calls == [1, 2]
    assert response.body == {"granted": True, "nonce": client.signed_nonces[-1]}
    # the default hook's work is kept when a subclass calls super()
    assert [r.headers.get("X-Retry-Attempt") for r in nonce_server.requests] == [None, "2", "3"]
    assert sleeps == [3, 6]


async def test_signed_post_body_survives_resigning(nonce_server, sleeps):
    client = OAuth1Caller()
    response = await client.signed_fetch(
        nonce_server.url, method="POST", body={"order": 42}, content_type="application/json"
    )
    assert response.ok
    assert [r.body for r in nonce_server.requests] == [b'{"order":42}'] * 3
    assert len(set(nonce_server.seen)) == 3


async def test_without_the_hook_the_reused_nonce_is_refused(nonce_server, sleeps):
    """The control: the same signed request retried by the default hook reuses
    its nonce, and the server stops it. This is what the subclass prevents."""
    signer = OAuth1Caller()
    headers = signer._sign(nonce_server.url, {})
    response = await Caller().http_fetch(nonce_server.url, request_headers=headers)
    assert response.code == 401
    assert response.attempts == 2
    assert nonce_server.replayed == [signer.signed_nonces[0]]
    assert "already used" in response.body

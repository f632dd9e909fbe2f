"""OAuth 1 (RFC 5849): every attempt signed with a fresh nonce.

An OAuth 1 server remembers the nonces it has seen and rejects a request that
repeats one, so a retry cannot resend the first attempt's ``Authorization``
header. This mixin signs the first attempt and then re-signs each retry in
``_http_req_modify_for_retry``, which ``http_fetch`` calls before every
attempt after the first.
"""

from __future__ import annotations

import contextvars
from typing import Any, Dict, Optional, Tuple

from oauthlib import oauth1

import sprockets_http

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"

# The method and URL of the call in progress: the hooks are not given the
# method. A context variable rather than an attribute keeps concurrent calls
# apart (asyncio.gather runs each in its own context).
_current_call: contextvars.ContextVar[Tuple[str, str]] = contextvars.ContextVar("oauth1_call")


class OAuth1Mixin(sprockets_http.HTTPClientMixin):
    """Sign every attempt of :meth:`http_fetch` with OAuth 1 HMAC-SHA1."""

    oauth1_client_key: str = ""
    oauth1_client_secret: str = ""
    oauth1_token: Optional[str] = None
    oauth1_token_secret: Optional[str] = None

    async def http_fetch(
        self, url: Any, method: str = "GET", *args: Any, **kwargs: Any
    ) -> sprockets_http.HTTPResponse:
        token = _current_call.set((method.upper(), str(url)))
        try:
            return await super().http_fetch(url, method, *args, **kwargs)
        finally:
            _current_call.reset(token)

    def _http_req_apply_default_headers(
        self, request_headers: Any, content_type: Any, body: Any
    ) -> Dict[str, str]:
        # Called once, before the first attempt: sign it.
        headers = super()._http_req_apply_default_headers(request_headers, content_type, body)
        method, url = _current_call.get()
        return self._oauth1_sign(method, url, headers, body)

    def _http_req_modify_for_retry(
        self,
        response: sprockets_http.HTTPResponse,
        attempt: int,
        url: str,
        headers: Dict[str, str],
        body: Any,
    ) -> Tuple[str, Dict[str, str], Any]:
        # Called before every retry: sign it again, with a new nonce and timestamp.
        url, headers, body = super()._http_req_modify_for_retry(
            response, attempt, url, headers, body
        )
        method, _ = _current_call.get()
        return url, self._oauth1_sign(method, url, headers, body), body

    def _oauth1_sign(
        self, method: str, url: str, headers: Dict[str, str], body: Any
    ) -> Dict[str, str]:
        client = oauth1.Client(
            self.oauth1_client_key,
            client_secret=self.oauth1_client_secret,
            resource_owner_key=self.oauth1_token,
            resource_owner_secret=self.oauth1_token_secret,
            signature_method=oauth1.SIGNATURE_HMAC_SHA1,
        )
        content_type = next(
            (value for name, value in headers.items() if name.lower() == "content-type"), None
        )
        # RFC 5849 signs the query string and a form-encoded body (give it as
        # a str); a JSON or msgpack body is not part of the signature.
        form = content_type == FORM_CONTENT_TYPE
        _, signed, _ = client.sign(
            url,
            http_method=method,
            body=body if form else None,
            headers={"Content-Type": FORM_CONTENT_TYPE} if form else None,
        )
        headers = {name: value for name, value in headers.items()
                   if name.lower() != "authorization"}
        headers["Authorization"] = signed["Authorization"]
        return headers


class PhotoClient(OAuth1Mixin):
    """A client of a (fictitious) OAuth 1 photo API, usable from any code."""

    def __init__(self, client_key: str, client_secret: str,
                 token: Optional[str] = None, token_secret: Optional[str] = None) -> None:
        super().__init__()
        self.oauth1_client_key = client_key
        self.oauth1_client_secret = client_secret
        self.oauth1_token = token
        self.oauth1_token_secret = token_secret

    async def list_photos(self, api: str, page: int = 1) -> sprockets_http.HTTPResponse:
        # Query parameters are part of the signature.
        return await self.http_fetch(f"{api}/photos?page={page}")

    async def upload(self, api: str, title: str) -> sprockets_http.HTTPResponse:
        return await self.http_fetch(
            f"{api}/photos", method="POST", body={"title": title},
            content_type="application/json",
        )

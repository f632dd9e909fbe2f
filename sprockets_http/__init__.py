"""sprockets_http: an HTTP client mixin for Tornado services.

``HTTPClientMixin`` gives request handlers and rejected consumers
``await self.http_fetch(url, ...)``: :meth:`tornado.httpclient.AsyncHTTPClient.fetch`
in a retry loop with exponential backoff (Retry-After aware), msgpack and JSON
bodies, and an :class:`HTTPResponse` that keeps every attempt. A
reimplementation of ``sprockets.mixins.http`` 2.6.0.
"""

from sprockets_http._log import LOGGER, SECRET_QUERY_PARAMETERS
from sprockets_http._tornado_fixes import (
    fail_fetch_on_bad_gzip,
    fail_fetch_on_malformed_response,
    fail_fetch_on_reset,
)
from sprockets_http._version import __version__
from sprockets_http.content import (
    AVAILABLE_CONTENT_TYPES,
    CONTENT_TYPE_JSON,
    CONTENT_TYPE_MSGPACK,
    CONTENT_TYPE_SUFFIX_JSON,
    CONTENT_TYPE_SUFFIX_MSGPACK,
    DEFAULT_ACCEPT,
    BodyDecodeError,
)
from sprockets_http.mixin import DEFAULT_USER_AGENT, HTTPClientMixin
from sprockets_http.response import HTTPResponse
from sprockets_http.retry import IDEMPOTENT_METHODS, RetryBudget, RetryPolicy

# Tornado's simple client logs "Uncaught exception" and does not fail the
# fetch when a connection is reset after the headers; below 6.6, also when a
# gzip body is not gzip, and it waits for the timeout after a response head
# that does not parse or logs an ERROR for a chunk without its CRLF: see
# _tornado_fixes.
fail_fetch_on_reset()
fail_fetch_on_bad_gzip()
fail_fetch_on_malformed_response()

__all__ = [
    "AVAILABLE_CONTENT_TYPES",
    "CONTENT_TYPE_JSON",
    "CONTENT_TYPE_MSGPACK",
    "CONTENT_TYPE_SUFFIX_JSON",
    "CONTENT_TYPE_SUFFIX_MSGPACK",
    "DEFAULT_ACCEPT",
    "DEFAULT_USER_AGENT",
    "IDEMPOTENT_METHODS",
    "LOGGER",
    "SECRET_QUERY_PARAMETERS",
    "BodyDecodeError",
    "HTTPClientMixin",
    "HTTPResponse",
    "RetryBudget",
    "RetryPolicy",
    "__version__",
]

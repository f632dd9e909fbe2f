"""Every name in the API reference (the ``sprockets.mixins.http`` 2.6.0 docs)
exists under that name, with its parameters and defaults, and the package
exports what issue 2 lists."""

from __future__ import annotations

import inspect
import logging

import pytest
from ietfparse import datastructures
from tornado import web

import sprockets_http
from sprockets_http import HTTPClientMixin, HTTPResponse

EMPTY = inspect.Parameter.empty

#: http_fetch's parameters in the reference's order, with their defaults.
HTTP_FETCH_PARAMETERS = [
    ("url", EMPTY),
    ("method", "GET"),
    ("request_headers", None),
    ("body", None),
    ("content_type", "application/msgpack"),  # compared by str()
    ("follow_redirects", False),
    ("max_redirects", None),
    ("connect_timeout", None),
    ("request_timeout", None),
    ("retry_timeout", None),
    ("max_http_attempts", None),
    ("auth_username", None),
    ("auth_password", None),
    ("user_agent", None),
    ("validate_cert", True),
    ("allow_nonstandard_methods", False),
    ("dont_retry", None),
]

#: The hooks and their parameters (after self).
HOOKS = {
    "_http_req_apply_default_headers": ["request_headers", "content_type", "body"],
    "_http_req_body_serialize": ["body", "content_type"],
    "_http_req_user_agent": [],
    "_http_req_modify_for_retry": ["response", "attempt", "url", "headers", "body"],
}

RESPONSE_PROPERTIES = [
    "attempts", "body", "code", "duration", "exceptions", "headers", "history", "links",
    "ok", "raw",
]

EXPORTS = [
    "HTTPClientMixin", "HTTPResponse", "__version__", "LOGGER", "CONTENT_TYPE_JSON",
    "CONTENT_TYPE_MSGPACK", "DEFAULT_USER_AGENT",
]


@pytest.mark.parametrize("name", EXPORTS)
def test_exports(name):
    assert hasattr(sprockets_http, name)
    assert name in sprockets_http.__all__


def test_export_kinds():
    assert inspect.isclass(sprockets_http.HTTPClientMixin)
    assert inspect.isclass(sprockets_http.HTTPResponse)
    assert isinstance(sprockets_http.__version__, str) and sprockets_http.__version__
    assert isinstance(sprockets_http.LOGGER, logging.Logger)
    assert sprockets_http.LOGGER.name.split(".")[0] == "sprockets_http"
    assert sprockets_http.DEFAULT_USER_AGENT == (
        f"sprockets.mixins.http/{sprockets_http.__version__}"
    )


def test_content_type_constants():
    assert isinstance(sprockets_http.CONTENT_TYPE_MSGPACK, datastructures.ContentType)
    assert str(sprockets_http.CONTENT_TYPE_MSGPACK) == "application/msgpack"
    assert str(sprockets_http.CONTENT_TYPE_JSON) == "application/json"


def test_mixin_signature_takes_anything():
    parameters = list(inspect.signature(HTTPClientMixin.__init__).parameters.values())
    kinds = [p.kind for p in parameters[1:]]
    assert kinds == [inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD]


def test_http_fetch_is_a_coroutine_function():
    assert inspect.iscoroutinefunction(HTTPClientMixin.http_fetch)


def test_http_fetch_parameters_in_order_with_defaults():
    parameters = list(inspect.signature(HTTPClientMixin.http_fetch).parameters.values())
    assert parameters[0].name == "self"
    positional = parameters[1 : 1 + len(HTTP_FETCH_PARAMETERS)]
    assert [p.name for p in positional] == [name for name, _ in HTTP_FETCH_PARAMETERS]
    for parameter, (name, default) in zip(positional, HTTP_FETCH_PARAMETERS):
        assert parameter.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD, name
        if name == "content_type":
            assert str(parameter.default) == default
            assert parameter.default is sprockets_http.CONTENT_TYPE_MSGPACK
        else:
            assert parameter.default == default, name
            assert type(parameter.default) is type(default), name
    assert parameters[-1].kind is inspect.Parameter.VAR_KEYWORD
    assert parameters[-1].name == "kwargs"
    # anything added beyond the reference is keyword-only, so the reference's
    # positional order is kept
    extra = parameters[1 + len(HTTP_FETCH_PARAMETERS) : -1]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in extra)


@pytest.mark.parametrize("name, expected", sorted(HOOKS.items()))
def test_hooks(name, expected):
    method = getattr(HTTPClientMixin, name)
    assert callable(method)
    names = list(inspect.signature(method).parameters)
    assert names == ["self", *expected]


def test_response_constructor():
    parameters = inspect.signature(HTTPResponse).parameters
    assert list(parameters) == ["simplify_error_response"]
    assert parameters["simplify_error_response"].default is True


@pytest.mark.parametrize("name", RESPONSE_PROPERTIES)
def test_response_properties(name):
    assert isinstance(inspect.getattr_static(HTTPResponse, name), property)
    assert HTTPResponse.__dict__[name].__doc__


def test_mixin_goes_before_request_handler():
    class Handler(HTTPClientMixin, web.RequestHandler):
        pass

    assert Handler.__mro__.index(HTTPClientMixin) < Handler.__mro__.index(web.RequestHandler)
    assert Handler.http_fetch is HTTPClientMixin.http_fetch


@pytest.mark.parametrize(
    "name, value",
    [("DEFAULT_CONNECT_TIMEOUT", 20), ("DEFAULT_REQUEST_TIMEOUT", 20),
     ("DEFAULT_RETRY_TIMEOUT", 3), ("MAX_HTTP_RETRIES", 3), ("MAX_REDIRECTS", 5)],
)
def test_class_attribute_defaults(name, value):
    assert HTTPClientMixin.__dict__[name] == value


def test_body_decode_error():
    assert issubclass(sprockets_http.BodyDecodeError, ValueError)

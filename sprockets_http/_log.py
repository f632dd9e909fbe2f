"""The package logger, and redaction of credentials before anything is logged."""

from __future__ import annotations

import logging
import re
import urllib.parse
from typing import Any, Iterable, Mapping, Optional

#: The package's logger. Every message sprockets_http logs goes through it.
LOGGER = logging.getLogger("sprockets_http")

REDACTED = "[redacted]"

#: Request headers whose values are credentials.
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})


# The password of a URL's userinfo, for URLs urllib cannot parse (a bad port
# or a broken IPv6 address): "//user:PASSWORD@".
_USERINFO_PASSWORD = re.compile(r"(//[^/?#@:]*:)([^/?#@]*)@")


def redact_url(url: str) -> str:
    """Replace the password in a URL's userinfo with a placeholder."""
    if "@" not in url:  # no userinfo: the common case, without parsing
        return url
    try:
        parts = urllib.parse.urlsplit(url)
        password = parts.password
    except ValueError:  # an unparseable netloc: redact by pattern
        return _USERINFO_PASSWORD.sub(rf"\g<1>{REDACTED}@", url)
    if not password:
        return url
    user, _, host = parts.netloc.rpartition("@")
    name = user.split(":", 1)[0]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{name}:{REDACTED}@{host}"))


def _url_password(url: str) -> Optional[str]:
    if "@" not in url:
        return None
    try:
        return urllib.parse.urlsplit(url).password
    except ValueError:
        match = _USERINFO_PASSWORD.search(url)
        return match.group(2) if match else None


def secrets_of(
    url: str, headers: Optional[Mapping[str, str]], auth_password: Optional[str]
) -> frozenset[str]:
    """Collect the credential strings of one request, to scrub from log text."""
    found = set()
    password = _url_password(url)
    if password:
        found.add(password)
        found.add(urllib.parse.unquote(password))
    if auth_password:
        found.add(auth_password)
    for name, value in (headers or {}).items():
        if name.lower() in SECRET_HEADERS and value:
            text = str(value)
            found.add(text)
            # "Bearer abc": the token alone may appear in an error message.
            _scheme, _, credentials = text.partition(" ")
            if credentials.strip():
                found.add(credentials.strip())
    return frozenset(found)


def describe_outcome(outcome: Any, secrets: Iterable[str] = ()) -> str:
    """``"503 Service Unavailable"`` for a response; an exception's type and
    text, with *secrets* scrubbed, for an exception."""
    code = getattr(outcome, "code", None)
    if isinstance(code, int) and not isinstance(outcome, BaseException):
        return f"{code} {getattr(outcome, 'reason', '')}".rstrip()
    return scrub(f"{type(outcome).__name__}: {outcome}", secrets)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Remove every secret from *text*."""
    # Longer secrets first, so a short one inside a long one cannot leave
    # half of the long one behind.
    for secret in sorted(secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text

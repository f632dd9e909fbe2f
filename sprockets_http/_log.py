"""The package logger, and redaction of credentials before anything is logged."""

from __future__ import annotations

import logging
import urllib.parse
from typing import Iterable, Mapping, Optional

#: The package's logger. Every message sprockets_http logs goes through it.
LOGGER = logging.getLogger("sprockets_http")

REDACTED = "[redacted]"

#: Request headers whose values are credentials.
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})


def redact_url(url: str) -> str:
    """Replace the password in a URL's userinfo with a placeholder."""
    if "@" not in url:  # no userinfo: the common case, without parsing
        return url
    try:
        parts = urllib.parse.urlsplit(url)
        password = parts.password
    except ValueError:  # an unparseable netloc (a bad port, say)
        return url
    if not password:
        return url
    user, _, host = parts.netloc.rpartition("@")
    name = user.split(":", 1)[0]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{name}:{REDACTED}@{host}"))


def secrets_of(
    url: str, headers: Optional[Mapping[str, str]], auth_password: Optional[str]
) -> frozenset[str]:
    """Collect the credential strings of one request, to scrub from log text."""
    found = set()
    try:
        password = urllib.parse.urlsplit(url).password if "@" in url else None
    except ValueError:
        password = None
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


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Remove every secret from *text*."""
    # Longer secrets first, so a short one inside a long one cannot leave
    # half of the long one behind.
    for secret in sorted(secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text

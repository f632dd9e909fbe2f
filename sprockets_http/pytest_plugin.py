"""The pytest plugin of sprockets_http: fixtures for testing code that uses
:class:`~sprockets_http.HTTPClientMixin`.

Installing the package registers it (the ``pytest11`` entry point
``sprockets_http``); it needs nothing but pytest. It adds two fixtures and
registers a marker, with no other hook, no option and no autouse fixture:
nothing of it runs unless a test asks for a fixture.

``scripted_upstream``
    A :class:`~sprockets_http.testing.ScriptedUpstream`, stopped after the
    test. It serves from the loop the test runs on: pytest-tornasync's
    ``io_loop`` when the test uses it, else the loop of the first
    ``http_fetch`` call (pytest-asyncio, ``asyncio.run`` in a plain test).
    At teardown it checks that every scripted answer was used and every
    request got one (:meth:`~sprockets_http.testing.ScriptedUpstream.check`);
    a failed check is an error of the test.

``retry_waits``
    Makes the waits before retries instant for the test
    (:func:`~sprockets_http.testing.instant_retries`); the list of the
    waits ``http_fetch`` asked for, in seconds.

``@pytest.mark.scripted_upstream(allow_unused=True, allow_unexpected=True)``
    Relaxes the teardown check for a test (or a module, through
    ``pytestmark``). Both default to False; a test can also set the
    upstream's attributes of the same names.

Turn the plugin off with ``-p no:sprockets_http``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict, Iterator, List

import pytest

if TYPE_CHECKING:  # pragma: no cover
    from sprockets_http.testing import ScriptedUpstream

__all__ = ["retry_waits", "scripted_upstream"]

_MARKER = "scripted_upstream"
_OPTIONS = ("allow_unused", "allow_unexpected")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{_MARKER}(allow_unused=False, allow_unexpected=False): relax the teardown check "
        "of the scripted_upstream fixture (sprockets_http): accept scripted answers no "
        "request got, or requests no answer was scripted for",
    )


def _marker_options(request: pytest.FixtureRequest) -> Dict[str, bool]:
    marker = request.node.get_closest_marker(_MARKER)
    if marker is None:
        return {}
    unknown = sorted(set(marker.kwargs) - set(_OPTIONS))
    if marker.args or unknown:
        raise pytest.UsageError(
            f"@pytest.mark.{_MARKER} takes only the keyword arguments "
            f"{', '.join(_OPTIONS)}, not {', '.join(unknown) or repr(marker.args)}"
        )
    return {name: bool(value) for name, value in marker.kwargs.items()}


@pytest.fixture
def scripted_upstream(request: pytest.FixtureRequest) -> Iterator[ScriptedUpstream]:
    """A scripted upstream on 127.0.0.1 (see the module's documentation)."""
    # Imported here, not when pytest loads the plugin (tornado.testing, unittest).
    from tornado.ioloop import IOLoop

    from sprockets_http.testing import ScriptedUpstream

    upstream = ScriptedUpstream(**_marker_options(request))
    try:
        if "io_loop" in request.fixturenames:  # pytest-tornasync's
            io_loop = request.getfixturevalue("io_loop")
            if isinstance(io_loop, IOLoop):
                upstream.start(io_loop)
        yield upstream
    finally:
        upstream.stop()
    try:
        upstream.check()
    except AssertionError as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture
def retry_waits() -> Iterator[List[float]]:
    """Retries are instant in the test; the list of the waits asked for."""
    from sprockets_http.testing import instant_retries

    with instant_retries() as waits:
        yield waits

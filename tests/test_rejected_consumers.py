"""Consumers of the real rejected framework, calling real upstreams.

Two levels, both with the real ``rejected`` (3.23.1, the test extra):

* rejected's own harness, :class:`rejected.testing.AsyncTestCase`, runs the
  consumers of examples/consumer.py and of this module through rejected's
  ``Consumer.execute`` against Tornado upstreams on 127.0.0.1. The consumer's
  process is a real :class:`rejected.process.Process`, and the consumer is
  built by its ``get_consumer`` from the dotted name in the configuration, as
  rejected does at start-up: that is where the consumer's name and version,
  and so the User-Agent, come from.
* ``test_end_to_end_through_rabbitmq`` (marker ``rabbitmq``) publishes a
  message to a RabbitMQ broker on 127.0.0.1:5672, lets the ``rejected``
  command run examples/consumer.py with examples/consumer.yaml, and reads
  what the upstream received and what the consumer published. ``.ci/run``
  starts the broker with ``.ci/rabbitmq start``; without one, the test skips
  and says how to start one.

rejected 3 supports no Python beyond what its dependencies allow, and imports
``pkg_resources``, which setuptools 81 and later no longer provide; where it
cannot be imported this module is skipped, with the import error as reason.
With ``SPROCKETS_HTTP_REQUIRE_RABBITMQ=1`` in the environment (``.ci/run``
sets it) a missing rejected or broker fails the tests instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pathlib
import signal
import subprocess
import sys
import time
import uuid
from typing import Any, Dict, List, Optional
from unittest import mock

import pytest
from tornado import gen, httpclient, httpserver, web
from tornado.testing import bind_unused_port

from sprockets_http import DEFAULT_USER_AGENT, HTTPClientMixin
from sprockets_http.testing import instant_retries

ROOT = pathlib.Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
REQUIRED = os.environ.get("SPROCKETS_HTTP_REQUIRE_RABBITMQ") == "1"


def _skip_or_fail(reason: str) -> None:
    if REQUIRED:
        pytest.fail(f"{reason} (SPROCKETS_HTTP_REQUIRE_RABBITMQ=1)", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


try:
    import pika
    import rejected.process
    import yaml
    from rejected import consumer, testing
except ImportError as error:  # pragma: no cover - depends on the Python
    _skip_or_fail(
        f"rejected 3 cannot be imported on Python {sys.version.split()[0]} ({error}): "
        "the test extra installs it on Python 3.9 to 3.13, with setuptools<81 for "
        "the pkg_resources it imports"
    )


# --- upstreams ------------------------------------------------------------------


class Upstream:
    """What a fake upstream received, and the statuses it answers first."""

    def __init__(self, statuses: Optional[List[int]] = None) -> None:
        self.statuses = list(statuses or [])
        self.seen: List[Dict[str, Any]] = []

    def app(self, answer: Dict[str, Any]) -> web.Application:
        upstream = self

        class Handler(web.RequestHandler):
            def handle(self) -> None:
                upstream.seen.append({
                    "method": self.request.method,
                    "headers": self.request.headers,
                    "body": self.request.body,
                })
                if upstream.statuses:
                    self.set_status(upstream.statuses.pop(0))
                    self.write({"message": "try again"})
                    return
                self.write(answer)

            get = post = handle

        return web.Application([(r"/.*", Handler)])

    def header(self, name: str) -> List[Optional[str]]:
        return [seen["headers"].get(name) for seen in self.seen]


LOCATION = {"lat": 51.5, "lon": -0.12}


# --- consumers defined here -----------------------------------------------------
# This module has no __version__ and no distribution of its own: rejected sets
# the process's consumer_version to None for these.


class LookupConsumer(HTTPClientMixin, consumer.Consumer):
    """A plain rejected Consumer written the other way rejected 3 waits for:
    ``@gen.coroutine`` with ``yield``."""

    @gen.coroutine
    def process(self) -> Any:
        response = yield self.http_fetch(self.settings["lookup_url"])
        if not response.ok:
            raise consumer.ProcessingException(f"lookup answered {response.code}")
        self.publish_message(
            "lookups", "lookup.done", {"correlation_id": self.correlation_id},
            json.dumps(response.body),
        )


class AsyncDefConsumer(HTTPClientMixin, consumer.Consumer):
    """What docs/consumers.rst warns against: rejected 3 calls this
    ``process`` and never awaits the coroutine it returns."""

    async def process(self) -> None:
        await self.http_fetch(self.settings["lookup_url"])
        self.publish_message("lookups", "lookup.done", {}, "done")


# --- rejected's harness ---------------------------------------------------------


class RejectedTestCase(testing.AsyncTestCase):
    """rejected's harness with a real process and an upstream on 127.0.0.1.

    ``CONSUMER`` is the dotted name as written in a rejected configuration,
    ``CONSUMER_NAME`` the consumer's key in it. Retries are instant;
    ``self.waits`` lists the waits the mixin asked for.
    """

    CONSUMER = "consumer.GeocodeConsumer"
    CONSUMER_NAME = "geocoder"
    STATUSES: List[int] = []

    def setUp(self) -> None:
        # The examples directory on the path, as "rejected -p examples" does.
        path = mock.patch.object(sys, "path", [str(EXAMPLES), *sys.path])
        path.start()
        self.addCleanup(path.stop)
        self.addCleanup(sys.modules.pop, "consumer", None)
        stack = contextlib.ExitStack()
        self.addCleanup(stack.close)
        self.waits = stack.enter_context(instant_retries())
        self.upstream = Upstream(self.STATUSES)
        self.upstream_socket, port = bind_unused_port()  # 127.0.0.1
        self.upstream_url = f"http://127.0.0.1:{port}"
        super().setUp()
        self.upstream_server = httpserver.HTTPServer(self.upstream.app(LOCATION))
        self.upstream_server.add_sockets([self.upstream_socket])

    def tearDown(self) -> None:
        self.upstream_server.stop()
        self.io_loop.run_sync(self.upstream_server.close_all_connections, timeout=10)
        httpclient.AsyncHTTPClient().close()
        super().tearDown()

    def get_settings(self) -> Dict[str, Any]:
        return {"geocoder_url": f"{self.upstream_url}/geocode", "exchange": "geo"}

    def _create_process(self) -> Any:
        # A real Process, made as rejected's MCP makes one for each consumer
        # (its "config" is the configuration's Application section); only the
        # connection is the harness's mock.
        application = {
            "Connections": {"mock": {}},
            "Consumers": {
                self.CONSUMER_NAME: {
                    "consumer": self.CONSUMER,
                    "connections": ["mock"],
                    "queue": "addresses",
                    "config": self.get_settings(),
                },
            },
        }
        process = rejected.process.Process(
            name=f"{self.CONSUMER_NAME}-1",
            kwargs={"config": application, "consumer_name": self.CONSUMER_NAME},
        )
        process.connections = {"mock": self._create_connection()}
        return process

    def _create_consumer(self) -> Any:
        # As Process.setup does: import the class named in the configuration,
        # record its module's version, and build it with the process. Then
        # what the harness's own _create_consumer does.
        built = self.process.get_consumer(self.process.consumer_config)
        assert built is not None, f"rejected could not create {self.CONSUMER}"
        built._message = self.create_message("dummy")
        built.set_channel("mock", self.process.connections["mock"].channel)
        return built

    def published(self) -> List[Any]:
        """The messages the consumer published, error republishes aside."""
        return [m for m in self.published_messages if m.exchange != "errors"]


class GeocodeConsumerTests(RejectedTestCase):
    """examples/consumer.py, through rejected's harness."""

    STATUSES = [503]

    @testing.gen_test(timeout=30)
    def test_calls_retries_and_publishes(self) -> Any:
        yield self.process_message(
            {"address": "10 Downing St"}, properties={"correlation_id": "3f1c-42"}
        )

        assert [seen["method"] for seen in self.upstream.seen] == ["POST", "POST"]
        assert self.upstream.header("X-Retry-Attempt") == [None, "2"]
        assert self.waits == [3]  # the mixin's default first wait, made instant
        assert self.upstream.header("Correlation-Id") == ["3f1c-42"] * 2
        # consumer_name from the configuration, consumer_version from the
        # example module's __version__, both read by rejected.
        assert self.process.consumer_version == "2.0.1"
        assert self.upstream.header("User-Agent") == ["geocoder/2.0.1"] * 2
        assert self.upstream.header("Content-Type") == ["application/json"] * 2
        assert [json.loads(seen["body"]) for seen in self.upstream.seen] == [
            {"address": "10 Downing St"}
        ] * 2

        [message] = self.published()
        assert (message.exchange, message.routing_key) == ("geo", "address.geocoded")
        assert message.properties.correlation_id == "3f1c-42"
        assert message.properties.content_type == "application/json"
        assert json.loads(message.body) == {"address": "10 Downing St", "location": LOCATION}

    @testing.gen_test(timeout=30)
    def test_correlation_id_falls_back_to_the_message_id(self) -> Any:
        # rejected's rule: the correlation_id property, else the message_id.
        yield self.process_message(
            {"address": "x"}, properties={"correlation_id": None, "message_id": "msg-7"}
        )
        assert self.upstream.header("Correlation-Id") == ["msg-7"] * 2
        assert self.published()[0].properties.correlation_id == "msg-7"


class GeocodeConsumerFailureTests(RejectedTestCase):
    STATUSES = [500, 502, 503]

    @testing.gen_test(timeout=30)
    def test_upstream_down_raises_processing_exception(self) -> Any:
        with self.assertRaises(consumer.ProcessingException):
            yield self.process_message({"address": "nowhere"})
        assert self.upstream.header("X-Retry-Attempt") == [None, "2", "3"]
        assert self.waits == [3, 6]
        assert self.published() == []
        # rejected republished the message to its error exchange.
        [error] = [m for m in self.published_messages if m.exchange == "errors"]
        assert json.loads(error.body) == {"address": "nowhere"}


class GeocodeConsumerSettingsTests(RejectedTestCase):
    def get_settings(self) -> Dict[str, Any]:
        # The consumer's config section names the User-Agent when it has both
        # keys, and shortens the retries of every call.
        return {**super().get_settings(), "service": "geo", "version": "9", "retry_timeout": 0.25}

    @testing.gen_test(timeout=30)
    def test_config_service_and_version_win(self) -> Any:
        self.upstream.statuses = [503]
        yield self.process_message({"address": "x"})
        assert self.upstream.header("User-Agent") == ["geo/9", "geo/9"]
        assert self.waits == [0.25]


class LookupConsumerTests(RejectedTestCase):
    """A plain Consumer with @gen.coroutine, from a module without a version."""

    CONSUMER = f"{__name__}.LookupConsumer"
    CONSUMER_NAME = "lookup"
    STATUSES = [502]

    def get_settings(self) -> Dict[str, Any]:
        return {"lookup_url": f"{self.upstream_url}/lookup"}

    @testing.gen_test(timeout=30)
    def test_gen_coroutine_consumer(self) -> Any:
        yield self.process_message("q", content_type="text/plain",
                                   properties={"correlation_id": "c-9"})
        assert [seen["method"] for seen in self.upstream.seen] == ["GET", "GET"]
        assert self.upstream.header("X-Retry-Attempt") == [None, "2"]
        assert self.upstream.header("Correlation-Id") == ["c-9", "c-9"]
        # rejected found no version for this module: consumer_version is None,
        # and the User-Agent falls through to the default, not "lookup/None".
        assert self.process.consumer_version is None
        assert self.upstream.header("User-Agent") == [DEFAULT_USER_AGENT] * 2
        [message] = self.published()
        assert (message.exchange, message.routing_key) == ("lookups", "lookup.done")
        assert json.loads(message.body) == LOCATION


class AsyncDefConsumerTests(RejectedTestCase):
    """The pitfall the docs warn about, checked against rejected itself: if a
    rejected release starts awaiting ``async def process``, this test fails
    and docs/consumers.rst must change."""

    CONSUMER = f"{__name__}.AsyncDefConsumer"
    CONSUMER_NAME = "lookup"

    def get_settings(self) -> Dict[str, Any]:
        return {"lookup_url": f"{self.upstream_url}/lookup"}

    @testing.gen_test(timeout=30)
    def test_async_def_process_is_never_awaited(self) -> Any:
        with pytest.warns(RuntimeWarning, match="never awaited"):
            measurement = yield self.process_message("q", content_type="text/plain")
            # Give a stray task every chance to run: none does.
            for _ in range(20):
                yield gen.moment
        assert measurement is not None  # the message counts as processed...
        assert self.upstream.seen == []  # ...but no call was made
        assert self.published_messages == []


# --- end to end, through RabbitMQ -------------------------------------------------

BROKER = ("127.0.0.1", 5672)
START_BROKER = (
    "start one with `bash .ci/rabbitmq start` as root (it installs Debian's "
    "rabbitmq-server if needed and listens on 127.0.0.1 only; `bash .ci/rabbitmq stop` "
    "stops it); .ci/run does this"
)


@pytest.fixture
def broker() -> Any:
    """A blocking pika connection to the broker on 127.0.0.1:5672, or a skip."""
    parameters = pika.ConnectionParameters(
        *BROKER, connection_attempts=1, socket_timeout=5, blocked_connection_timeout=10
    )
    try:
        connection = pika.BlockingConnection(parameters)
    except Exception as error:
        _skip_or_fail(f"no RabbitMQ broker on 127.0.0.1:5672 ({error!r}): {START_BROKER}")
    try:
        yield connection.channel()
    finally:
        if connection.is_open:
            connection.close()


def _rejected_config(tmp_path: pathlib.Path, **config: Any) -> pathlib.Path:
    """examples/consumer.yaml, pointed at this test's queue, upstream and files."""
    settings = yaml.safe_load((EXAMPLES / "consumer.yaml").read_text(encoding="utf-8"))
    geocoder = settings["Application"]["Consumers"]["geocoder"]
    geocoder["queue"] = config.pop("queue")
    geocoder["config"].update(config)
    settings["Daemon"]["pidfile"] = str(tmp_path / "rejected.pid")
    path = tmp_path / "rejected.yaml"
    path.write_text(yaml.safe_dump(settings), encoding="utf-8")
    return path


def _stop(process: subprocess.Popen, timeout: float = 10) -> None:
    """Stop the rejected controller we started, then anything left in its
    process group (the consumer processes it forked)."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)  # our own session: only ours
    except ProcessLookupError:
        pass
    process.wait(10)


@pytest.mark.rabbitmq
async def test_end_to_end_through_rabbitmq(broker, serve, tmp_path):
    tag = f"sprockets_http_e2e_{uuid.uuid4().hex[:12]}"
    queue, results, exchange = f"{tag}_in", f"{tag}_out", tag
    # Queues left by a test that died go away by themselves after 5 minutes.
    expires = {"x-expires": 300_000}
    broker.queue_declare(queue, arguments=expires)
    broker.queue_declare(results, arguments=expires)
    broker.exchange_declare(exchange, "topic", auto_delete=True)
    broker.queue_bind(results, exchange, "address.geocoded")

    upstream = Upstream([503])
    url = serve(upstream.app(LOCATION))
    config = _rejected_config(
        tmp_path, queue=queue, exchange=exchange, geocoder_url=f"{url}/geocode",
        # A short first wait inside the consumer process, which this test
        # cannot patch: the retry happens 50 ms after the 503.
        retry_timeout=0.05,
    )
    correlation_id = f"cid-{uuid.uuid4()}"
    broker.basic_publish(
        "", queue, json.dumps({"address": "10 Downing St"}),
        pika.BasicProperties(content_type="application/json", correlation_id=correlation_id),
    )

    log = (tmp_path / "rejected.log").open("wb")
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "rejected.controller", "-c", str(config), "-f",
         "-p", str(EXAMPLES)],
        cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        message = None
        # 40 s leaves room for the stop within the suite's 60 s per test.
        while message is None and time.monotonic() - started < 40:
            assert process.poll() is None, "rejected exited:\n" + _read(tmp_path)
            method, properties, body = broker.basic_get(results, auto_ack=True)
            if method is None:
                await asyncio.sleep(0.1)  # the upstream answers meanwhile
            else:
                message = (method, properties, body)
        assert message is not None, "nothing published within 40 s:\n" + _read(tmp_path)
    finally:
        _stop(process)
        log.close()

    # What the upstream received: a 503, then the retry 50 ms later.
    assert [seen["method"] for seen in upstream.seen] == ["POST", "POST"]
    assert upstream.header("X-Retry-Attempt") == [None, "2"]
    assert upstream.header("Correlation-Id") == [correlation_id] * 2
    assert upstream.header("User-Agent") == ["geocoder/2.0.1"] * 2
    assert upstream.header("Content-Type") == ["application/json"] * 2
    assert [json.loads(seen["body"]) for seen in upstream.seen] == [
        {"address": "10 Downing St"}
    ] * 2

    # What the consumer published.
    method, properties, body = message
    assert (method.exchange, method.routing_key) == (exchange, "address.geocoded")
    assert properties.content_type == "application/json"
    assert properties.correlation_id == correlation_id
    assert json.loads(body) == {"address": "10 Downing St", "location": LOCATION}

    # The message was acked: nothing went back to the queue when rejected
    # stopped, and nothing else was published.
    assert broker.queue_declare(queue, passive=True).method.message_count == 0
    assert broker.queue_declare(results, passive=True).method.message_count == 0
    for name in (queue, results):
        broker.queue_delete(name)
    broker.exchange_delete(exchange)


def _read(tmp_path: pathlib.Path) -> str:
    return (tmp_path / "rejected.log").read_text(encoding="utf-8", errors="replace")[-4000:]

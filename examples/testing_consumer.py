"""Tests for the consumer in examples/consumer.py, with rejected's own harness.

Run them with ``pytest examples/testing_consumer.py``.
:class:`rejected.testing.AsyncTestCase` delivers each message through
rejected's ``Consumer.execute``, as rejected does, and records what the
consumer publishes. The geocoder is a real Tornado application on 127.0.0.1;
only the waits between attempts are made instant.
"""

import json

from consumer import GeocodeConsumer  # examples/consumer.py
from rejected import consumer, testing
from tornado import web

from sprockets_http.testing import instant_retries, serve_loopback


class FakeGeocoder(web.RequestHandler):
    """Answers with the statuses queued in ``failures``, then with a location."""

    failures: list = []
    requests: list = []

    def post(self) -> None:
        type(self).requests.append(self.request)
        if self.failures:
            self.set_status(self.failures.pop(0))
            return
        self.write({"lat": 51.5, "lon": -0.12})


class GeocodeConsumerTestCase(testing.AsyncTestCase):
    def get_consumer(self):
        return GeocodeConsumer

    def get_settings(self):
        return {"geocoder_url": "set in setUp", "exchange": "geo"}

    def setUp(self) -> None:
        FakeGeocoder.failures, FakeGeocoder.requests = [], []
        super().setUp()  # makes the IOLoop, then the consumer
        self.geocoder, url = serve_loopback(web.Application([("/geocode", FakeGeocoder)]))
        self.consumer.settings["geocoder_url"] = f"{url}/geocode"

    def tearDown(self) -> None:
        self.geocoder.stop()
        super().tearDown()

    @testing.gen_test
    def test_retries_then_publishes_the_location(self):
        FakeGeocoder.failures = [503]
        with instant_retries() as waits:
            yield self.process_message(
                {"address": "10 Downing St"}, properties={"correlation_id": "c-42"}
            )
        assert waits == [3]
        retries = [r.headers.get("X-Retry-Attempt") for r in FakeGeocoder.requests]
        assert retries == [None, "2"]
        assert {r.headers["Correlation-Id"] for r in FakeGeocoder.requests} == {"c-42"}
        [message] = self.published_messages
        assert message.routing_key == "address.geocoded"
        assert message.properties.correlation_id == "c-42"
        assert json.loads(message.body) == {
            "address": "10 Downing St", "location": {"lat": 51.5, "lon": -0.12},
        }

    @testing.gen_test
    def test_geocoder_down_is_a_processing_exception(self):
        FakeGeocoder.failures = [500, 500, 500]
        with instant_retries(), self.assertRaises(consumer.ProcessingException):
            yield self.process_message({"address": "nowhere"})
        assert len(FakeGeocoder.requests) == 3
        # Nothing went to "geo"; rejected republished the message to its
        # error exchange, to be tried again later.
        assert [m.exchange for m in self.published_messages] == ["errors"]

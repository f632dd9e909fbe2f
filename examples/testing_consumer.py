"""Tests for the consumer in examples/consumer.py, with rejected's own harness.

Run them with ``pytest examples/testing_consumer.py``.
:class:`rejected.testing.AsyncTestCase` delivers each message through
rejected's ``Consumer.execute``, as rejected does, and records what the
consumer publishes. :class:`sprockets_http.testing.ScriptedUpstreamTestCase`
adds the geocoder, a scripted upstream on 127.0.0.1 (``self.upstream``), and
makes the waits between attempts instant (``self.retry_waits``).
"""

import json

from consumer import GeocodeConsumer  # examples/consumer.py
from rejected import consumer, testing

from sprockets_http.testing import Answer, ScriptedUpstreamTestCase


class GeocodeConsumerTestCase(ScriptedUpstreamTestCase, testing.AsyncTestCase):
    def get_consumer(self):
        return GeocodeConsumer

    def get_settings(self):
        return {"geocoder_url": f"{self.upstream.url}/geocode", "exchange": "geo"}

    @testing.gen_test
    def test_retries_then_publishes_the_location(self):
        self.upstream.route("POST", "/geocode", 503, Answer(200, {"lat": 51.5, "lon": -0.12}))

        yield self.process_message(
            {"address": "10 Downing St"}, properties={"correlation_id": "c-42"}
        )

        first, second = self.upstream.requests
        assert first.body == second.body == {"address": "10 Downing St"}
        assert (first.attempt, second.attempt) == (1, 2) and self.retry_waits == [3]
        assert {r.headers["Correlation-Id"] for r in (first, second)} == {"c-42"}
        [message] = self.published_messages
        assert message.routing_key == "address.geocoded"
        assert message.properties.correlation_id == "c-42"
        assert json.loads(message.body) == {
            "address": "10 Downing St", "location": {"lat": 51.5, "lon": -0.12},
        }

    @testing.gen_test
    def test_geocoder_down_is_a_processing_exception(self):
        self.upstream.route("POST", "/geocode", 500, 500, 500)

        with self.assertRaises(consumer.ProcessingException):
            yield self.process_message({"address": "nowhere"})

        # Nothing went to "geo"; rejected republished the message to its
        # error exchange, to be tried again later.
        assert [m.exchange for m in self.published_messages] == ["errors"]

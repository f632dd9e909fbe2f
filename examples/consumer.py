"""A rejected RabbitMQ consumer that calls an HTTP API for every message.

rejected runs it from the configuration in examples/consumer.yaml:
``rejected -c consumer.yaml -f -p examples``.
"""

import asyncio

from rejected import consumer

import sprockets_http

# rejected takes the consumer's version from its module (else from the
# installed distribution); every call's User-Agent is then "geocoder/2.0.1":
# the consumer's name in the configuration, and this version.
__version__ = "2.0.1"


class GeocodeConsumer(sprockets_http.HTTPClientMixin, consumer.SmartConsumer):
    """Geocodes the address in each message and publishes the coordinates.

    Its ``config`` section of the rejected configuration gives
    ``geocoder_url``, the ``exchange`` to publish to and, optionally,
    ``retry_timeout``: the wait in seconds before the first retry of a call
    (default 3, doubled for each retry after it).
    """

    def process(self) -> "asyncio.Future[None]":
        # rejected 3 waits for process() only when it returns a future; an
        # "async def process" would be called, never awaited, and the message
        # acked with nothing done. So: run the coroutine as a task and return it.
        return asyncio.ensure_future(self.geocode())

    async def geocode(self) -> None:
        response = await self.http_fetch(
            self.settings["geocoder_url"],
            method="POST",
            body={"address": self.body["address"]},
            content_type="application/json",
            retry_timeout=self.settings.get("retry_timeout"),
        )
        if not response.ok:
            # rejected sends the message to the error exchange, to be retried later.
            raise consumer.ProcessingException(f"the geocoder answered {response.code}")
        self.publish_message(
            self.settings["exchange"],
            "address.geocoded",
            {"content_type": "application/json", "correlation_id": self.correlation_id},
            {"address": self.body["address"], "location": response.body},
        )

"""A rejected RabbitMQ consumer that calls an HTTP API for every message."""

from rejected import consumer

import sprockets_http


class GeocodeConsumer(sprockets_http.HTTPClientMixin, consumer.SmartConsumer):
    """Geocodes the address in each message and publishes the coordinates.

    Every call's User-Agent is "{consumer_name}/{consumer_version}" of the
    rejected process running the consumer, and its Correlation-Id is the
    message's correlation ID.
    """

    async def process(self) -> None:
        response = await self.http_fetch(
            self.settings["geocoder_url"],
            method="POST",
            body={"address": self.body["address"]},
            content_type="application/json",
        )
        if not response.ok:
            # rejected sends the message to the error exchange, to be retried later.
            raise consumer.ProcessingException(f"the geocoder answered {response.code}")
        self.publish_message(
            "geo",
            "address.geocoded",
            {"content_type": "application/json", "correlation_id": self.correlation_id},
            {"address": self.body["address"], "location": response.body},
        )

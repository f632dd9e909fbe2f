"""A base handler holding a service's call defaults, and a handler using it."""

from tornado import web

import sprockets_http


class ServiceHandler(sprockets_http.HTTPClientMixin, web.RequestHandler):
    """The defaults of every call this service makes, in one place."""

    MAX_HTTP_RETRIES = 4
    DEFAULT_RETRY_TIMEOUT = 0.5  # then 1 and 2 seconds
    DEFAULT_REQUEST_TIMEOUT = 5
    # Retry after a 5xx or a connection error only the methods that are safe
    # to repeat; 423 and 429 (refused, not processed) are retried for all.
    RETRY_METHODS = sprockets_http.IDEMPOTENT_METHODS

    def initialize(self) -> None:
        # Pass upstream error documents on whole, not just their "message".
        self.simplify_error_response = False


class ChargeHandler(ServiceHandler):
    """POST /orders/ID/charge?amount=N: charges the order with the payments API."""

    async def post(self, order_id: str) -> None:
        # The incoming request's Correlation-Id header goes along with the call.
        response = await self.http_fetch(
            f"{self.settings['payments_api']}/charges",
            method="POST",
            body={"order": order_id, "amount": int(self.get_argument("amount"))},
            content_type="application/json",
        )
        if response.ok:
            self.set_status(201)
            self.write(response.body)
        else:
            self.set_status(502)
            self.write({"upstream_status": response.code, "upstream_error": response.body})


def make_app(payments_api: str) -> web.Application:
    return web.Application(
        [(r"/orders/(\w+)/charge", ChargeHandler)], payments_api=payments_api
    )

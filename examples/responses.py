"""What an ``HTTPResponse`` offers, from a call made outside any handler."""

import asyncio
import sys

import sprockets_http


class Client(sprockets_http.HTTPClientMixin):
    """Any class can take the mixin: a script, a worker, a consumer."""


async def show(url: str) -> sprockets_http.HTTPResponse:
    response = await Client().http_fetch(url, retry_timeout=0.5)
    print("ok:", response.ok, "code:", response.code)
    print("attempts:", response.attempts)  # responses + exceptions
    print("statuses:", [each.code for each in response.history])
    print("exceptions:", [type(error).__name__ for error in response.exceptions])
    print("waits:", response.waits)  # seconds slept before each retry
    print("content type:", (response.headers or {}).get("Content-Type"))
    print("links:", response.links)
    print("body:", response.body)  # decoded once, by the Content-Type
    print(f"duration: {response.duration:.2f} s")
    return response


async def error_bodies(url: str) -> None:
    simple = await Client().http_fetch(url)
    print("simplified:", simple.body)  # the "message" of a JSON or msgpack error body

    client = Client()
    client.simplify_error_response = False
    whole = await client.http_fetch(url)
    print("whole:", whole.body)  # the whole decoded error body


if __name__ == "__main__":
    asyncio.run(show(sys.argv[1]))

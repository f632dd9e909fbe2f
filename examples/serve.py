"""Run the quickstart's service, and a users API for it to call, on 127.0.0.1."""

import asyncio
import logging
import sys

from handler import make_app
from tornado import httpserver, netutil, web

from sprockets_http.testing import serve_loopback

USERS = {"ada": "Ada Lovelace", "grace": "Grace Hopper"}


class StandInUsersAPI(web.RequestHandler):
    """Answers 503 to the first request for each user, like a service starting up."""

    asked = set()

    def get(self, user_id: str) -> None:
        if user_id not in USERS:
            raise web.HTTPError(404)
        if user_id not in self.asked:
            self.asked.add(user_id)
            raise web.HTTPError(503)
        self.write({"id": user_id, "name": USERS[user_id]})


async def main(port: int) -> None:
    _, users_api = serve_loopback(web.Application([(r"/users/(\w+)", StandInUsersAPI)]))
    sockets = netutil.bind_sockets(port, "127.0.0.1")
    httpserver.HTTPServer(make_app(users_api)).add_sockets(sockets)
    port = sockets[0].getsockname()[1]  # the one picked, when port is 0
    print(f"Serving http://127.0.0.1:{port}/users/ID (Ctrl-C stops it)", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    logging.basicConfig(format="%(name)s %(levelname)s: %(message)s")
    logging.getLogger("tornado.access").setLevel(logging.CRITICAL)  # only the retries
    try:
        asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 8000))
    except KeyboardInterrupt:
        pass

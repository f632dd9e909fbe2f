"""A Tornado handler that calls another service with ``http_fetch``."""

from tornado import web

import sprockets_http


class UserHandler(sprockets_http.HTTPClientMixin, web.RequestHandler):
    """GET /users/ID: fetches the user from the users API and answers with it."""

    async def get(self, user_id: str) -> None:
        response = await self.http_fetch(
            f"{self.settings['users_api']}/users/{user_id}", request_timeout=5
        )
        if response.ok:
            self.write({"user": response.body, "attempts": response.attempts})
        elif response.code == 404:
            raise web.HTTPError(404)
        else:
            # A 5xx after every attempt, or no answer at all: code 599, and
            # the connection errors are in response.exceptions.
            self.set_status(502)
            self.write({"upstream_status": response.code, "attempts": response.attempts})


def make_app(users_api: str) -> web.Application:
    return web.Application(
        [(r"/users/(\w+)", UserHandler)],
        users_api=users_api,
        # With both set, every call's User-Agent is "profile-service/1.4.0".
        service="profile-service",
        version="1.4.0",
    )

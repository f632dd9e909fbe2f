from tornado import web

from sprockets_http import HTTPResponse


class Flaky(web.RequestHandler):
    calls = 0

    def get(self):
        type(self).calls += 1
        if type(self).calls < 3:
            self.set_status(503)
            return
        self.set_header("Content-Type", "application/json")
        self.write(b'{"ok": true}')


async def test_retries_until_success(serve, sleeps, caller, client_kind):
    Flaky.calls = 0
    url = serve([("/", Flaky)])
    response = await caller.http_fetch(url + "/")
    assert isinstance(response, HTTPResponse)
    assert response.ok and response.body == {"ok": True}
    assert [r.code for r in response.history] == [503, 503, 200]
    assert sleeps == [3, 6]

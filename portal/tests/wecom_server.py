"""A local WeCom API (127.0.0.1) answering ``gettoken`` and ``message/send`` as docs/wecom.md describes.

``server.script`` holds answers to give to the next ``message/send`` calls (then the normal rules
apply); ``server.requests`` records every call as ``(path, query, json body or None)``.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

CORP_ID, AGENT_ID, SECRET = "ww0123456789abcdef", "1000002", "app-secret-for-tests"


class FakeWeCom(BaseHTTPRequestHandler):
    def _answer(self, body: dict) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _parse(self):
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        self.server.requests.append((url.path, query, body))
        return url.path, query, body

    def do_GET(self):
        path, query, _body = self._parse()
        server = self.server
        if path != "/cgi-bin/gettoken":
            return self._answer({"errcode": 404, "errmsg": "not found"})
        if query.get("corpid") != CORP_ID:
            return self._answer({"errcode": 40013, "errmsg": "invalid corpid"})
        if query.get("corpsecret") != SECRET:
            return self._answer({"errcode": 40001, "errmsg": "invalid credential"})
        server.tokens += 1
        server.valid_token = f"ACCESS_TOKEN_{server.tokens}"
        return self._answer(
            {"errcode": 0, "errmsg": "ok", "access_token": server.valid_token, "expires_in": server.expires_in}
        )

    def do_POST(self):
        path, query, body = self._parse()
        server = self.server
        if path != "/cgi-bin/message/send":
            return self._answer({"errcode": 404, "errmsg": "not found"})
        if server.script:
            return self._answer(server.script.pop(0))
        if query.get("access_token") != server.valid_token:
            return self._answer({"errcode": 40014, "errmsg": "invalid access_token"})
        users = [u for u in body["touser"].split("|") if u]
        invalid = [u for u in users if u not in server.users]
        if invalid and len(invalid) == len(users):  # every recipient unknown: the call fails
            return self._answer(
                {"errcode": 81013, "errmsg": "user & party & tag all invalid", "invaliduser": "|".join(invalid)}
            )
        server.delivered.append(body)
        return self._answer(
            {
                "errcode": 0,
                "errmsg": "ok",
                "invaliduser": "|".join(invalid),
                "msgid": f"msgid_{len(server.delivered)}",
            }
        )

    def log_message(self, *args):
        pass


@pytest.fixture
def wecom_api(settings):
    """The fake API, and the portal configured to use it."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeWeCom)
    server.requests, server.delivered, server.script = [], [], []
    server.users = {"zhangsan", "lixiaoshou", "sunqi"}
    server.tokens, server.valid_token, server.expires_in = 0, None, 7200
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.WECOM_CORP_ID, settings.WECOM_AGENT_ID, settings.WECOM_APP_SECRET = CORP_ID, AGENT_ID, SECRET
    settings.WECOM_API_BASE = f"http://127.0.0.1:{server.server_port}/cgi-bin"
    settings.PORTAL_BASE_URL = "https://qungui.example.com"
    yield server
    server.shutdown()
    server.server_close()


def calls(server, path: str) -> list:
    return [r for r in server.requests if r[0] == f"/cgi-bin/{path}"]

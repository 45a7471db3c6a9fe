"""A fake Twilio REST API on 127.0.0.1: Messages create (201 JSON) and list, with scripted failures.

    with FakeTwilio() as fake:
        provider = TwilioProvider("AC123", "token", api_base=fake.base_url)
        fake.fail_next(21610, status=400)      # the next create answers a Twilio error

Requests are checked like Twilio does: basic auth with the account sid, form-encoded body.
``add_account(sid, token)`` adds another account (a business's own subaccount): its
texts are ``POST /2010-04-01/Accounts/{sid}/Messages.json`` with its own credentials, and
each record in ``sent`` names the ``account_sid`` whose URL it was posted to.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
import uuid
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

__all__ = ["FakeTwilio"]


class FakeTwilio:
    """Holds the texts it accepted; ``sent`` lists their form parameters."""

    def __init__(self, account_sid: str = "AC" + "0" * 32, auth_token: str = "fake-token") -> None:  # noqa: S107
        self.account_sid, self.auth_token = account_sid, auth_token
        self.accounts = {account_sid: auth_token}
        self.sent: list[dict[str, str]] = []
        self.deleted: list[str] = []
        self.failures: list[tuple[int, int]] = []
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args) -> None:  # quiet
                pass

            def setup(self) -> None:
                super().setup()
                # Headers and body go out in separate writes: without this, Nagle's algorithm and the
                # client's delayed ACK add about 40 ms to every keep-alive request.
                self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def _reply(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _account(self, path: str) -> str | None:
                """The known account whose Messages list ``path`` is, if any."""
                for sid in fake.accounts:
                    if path == f"/2010-04-01/Accounts/{sid}/Messages.json":
                        return sid
                return None

            def _authorised(self, account_sid: str) -> bool:
                expected = base64.b64encode(f"{account_sid}:{fake.accounts[account_sid]}".encode()).decode()
                return self.headers.get("Authorization") == f"Basic {expected}"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                account_sid = self._account(urlsplit(self.path).path)
                if account_sid is None:
                    return self._reply(404, {"code": 20404, "message": "not found", "status": 404})
                if not self._authorised(account_sid):
                    return self._reply(401, {"code": 20003, "message": "Authenticate", "status": 401})
                with fake.lock:
                    if fake.failures:
                        code, status = fake.failures.pop(0)
                        return self._reply(status, {"code": code, "message": f"error {code}", "status": status,
                                                    "more_info": f"https://www.twilio.com/docs/errors/{code}"})
                    sid = f"SM{uuid.uuid4().hex}"
                    record = {**form, "sid": sid, "account_sid": account_sid,
                              "date_created": format_datetime(datetime.now(UTC), usegmt=True)}
                    fake.sent.append(record)
                self._reply(201, fake._resource(record, "queued"))

            def do_DELETE(self) -> None:
                account_sid, _, sid = urlsplit(self.path).path.removeprefix("/2010-04-01/Accounts/").partition(
                    "/Messages/")
                sid = sid.removesuffix(".json")
                if account_sid not in fake.accounts:
                    return self._reply(404, {"code": 20404, "message": "not found", "status": 404})
                if not self._authorised(account_sid):
                    return self._reply(401, {"code": 20003, "message": "Authenticate", "status": 401})
                with fake.lock:  # a message belongs to the account it was sent from
                    found = [r for r in fake.sent if r["sid"] == sid and r["account_sid"] == account_sid]
                    for record in found:
                        fake.sent.remove(record)
                        fake.deleted.append(sid)
                if not found:
                    return self._reply(404, {"code": 20404, "message": "not found", "status": 404})
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                account_sid = self._account(parts.path)
                if account_sid is None:
                    return self._reply(404, {"code": 20404, "message": "not found", "status": 404})
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                with fake.lock:
                    found = [r for r in fake.sent if r["account_sid"] == account_sid
                             and r.get("To") == query.get("To", r.get("To"))
                             and r.get("From") == query.get("From", r.get("From"))]
                self._reply(200, {"messages": [fake._resource(r, "sent") for r in found], "end": len(found),
                                  "first_page_uri": parts.path, "next_page_uri": None, "page": 0,
                                  "page_size": 50, "previous_page_uri": None, "start": 0, "uri": parts.path})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _resource(self, record: dict[str, str], status: str) -> dict:
        return {"sid": record["sid"], "account_sid": record["account_sid"], "to": record.get("To"),
                "from": record.get("From"), "body": record.get("Body"), "status": status,
                "date_created": record["date_created"], "date_sent": record["date_created"],
                "num_segments": "1", "direction": "outbound-api", "error_code": None, "error_message": None,
                "uri": f"/2010-04-01/Accounts/{record['account_sid']}/Messages/{record['sid']}.json"}

    def add_account(self, account_sid: str, auth_token: str) -> None:
        """Accept texts for another account (a business's own), with its own credentials."""
        self.accounts[account_sid] = auth_token

    def fail_next(self, code: int, *, status: int = 400, times: int = 1) -> None:
        """The next ``times`` creates answer Twilio error ``code`` with HTTP ``status``."""
        with self.lock:
            self.failures.extend([(code, status)] * times)

    def __enter__(self) -> FakeTwilio:
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.server.shutdown()
        self.server.server_close()

"""Inbound signed texts into the sidecar on PostgreSQL vs a bare Starlette endpoint; the applier; worker sends.

1. The sidecar (``webhooks.app`` under uvicorn[standard]: uvloop + httptools, one
   process) on a throwaway PostgreSQL database, and a bare Starlette endpoint that
   answers 200 (bench/messaging_bare_app.py), served the same way in the same run.
   A keep-alive load client on 127.0.0.1 sends signed inbound texts, 10% of them
   repeated deliveries of an earlier MessageSid; it reports requests/s and p99 latency
   for each and the ratio. The sidecar only verifies and stores the raw events (one
   insert and one commit per request through the engine).
2. The applier: the worker's apply step (``webhooks.apply_received_events`` with every
   provider's appliers) drains the stored events with ``--appliers`` loops side by side
   (events/s); then the stored messages are counted per unique MessageSid (exactly one each).
3. Worker send throughput against the fake Twilio server (tests/fakes/twilio.py):
   texts/s through the worker (claim, re-check, send through the twilio SDK, record)
   versus the same SDK sends alone.

``--own-account``: the bench business has connected its own Twilio account, so its
texts are signed with that account's token (and its sends go through that account),
and 200 other businesses with accounts of their own fill the sidecar's map.

Usage: python bench/messaging_webhooks.py [--requests 4000] [--concurrency 32] [--appliers 2] [--texts 300]
                                          [--own-account]
PostgreSQL: KAIMEN_BENCH_POSTGRES_URL (a superuser URL; default postgresql://postgres@127.0.0.1:5432/test).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
import throwaway  # first: a private data folder, cheap hashing, the project on sys.path

ROOT = Path(__file__).resolve().parents[1]
TOKEN, PUBLIC = "bench-twilio-token", "https://kaimen.example.com"
os.environ.update(TWILIO_AUTH_TOKEN=TOKEN, TWILIO_ACCOUNT_SID="AC" + "0" * 32, KAIMEN_PUBLIC_URL=PUBLIC)
os.environ.setdefault("KAIMEN_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")

from sqlalchemy import text  # noqa: E402
from twilio.request_validator import RequestValidator  # noqa: E402

from kaimen_core import db, webhooks  # noqa: E402
from kaimen_core.models import Business  # noqa: E402
from kaimen_core.webhook_providers import PROVIDERS  # noqa: E402

NUMBER = "+15555550100"
#: Who signs the bench's texts: the platform's account, or (--own-account) the business's own.
SIGNER = {"account_sid": "AC" + "0" * 32, "token": TOKEN}
OWN_SID, OWN_TOKEN = "AC" + "5b" * 16, "7e" * 16


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(app: str, port: int, env: dict[str, str]) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port), "--loop", "uvloop",
         "--http", "httptools", "--no-access-log", "--log-level", "warning"],
        cwd=ROOT, env=env, start_new_session=True)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"{app} did not start")


def build_requests(count: int, port: int, prefix: str = "SM") -> tuple[list[bytes], int]:
    """Signed inbound texts; every tenth repeats an earlier MessageSid (a duplicate delivery)."""
    validator = RequestValidator(SIGNER["token"])
    rng = random.Random(5)
    sids: list[str] = []
    requests = []
    for n in range(count):
        if n % 10 == 9 and sids:
            sid = rng.choice(sids)
        else:
            sid = f"{prefix}{n:032x}"
            sids.append(sid)
        params = {"MessageSid": sid, "AccountSid": SIGNER["account_sid"], "From": f"+1212555{n % 500:04d}",
                  "To": NUMBER, "Body": f"Hello, can I book a cut? ({sid[-6:]})", "NumMedia": "0"}
        body = urlencode(params).encode()
        signature = validator.compute_signature(PUBLIC + "/twilio/sms", params)
        requests.append(
            b"POST /twilio/sms HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            b"X-Twilio-Signature: %s\r\nContent-Length: %d\r\n\r\n%s" % (port, signature.encode(), len(body), body))
    return requests, len(sids)


async def _connection(port: int, queue: list[bytes], latencies: list[float], statuses: dict[int, int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while queue:
            request = queue.pop()
            start = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:"))
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - start)
            statuses[status] = statuses.get(status, 0) + 1
    finally:
        writer.close()


def load(port: int, requests: list[bytes], concurrency: int) -> tuple[float, float, dict[int, int]]:
    queue = list(reversed(requests))
    latencies: list[float] = []
    statuses: dict[int, int] = {}

    async def run() -> float:
        start = time.perf_counter()
        await asyncio.gather(*(_connection(port, queue, latencies, statuses) for _ in range(concurrency)))
        return time.perf_counter() - start

    elapsed = asyncio.run(run())
    latencies.sort()
    return len(latencies) / elapsed, latencies[int(len(latencies) * 0.99) - 1] * 1000, statuses


def webhooks_bench(args) -> None:
    env = {**os.environ}
    bare_port, sidecar_port = free_port(), free_port()
    bare = serve("bench.messaging_bare_app:app", bare_port, env)
    sidecar = serve("webhooks.app:app", sidecar_port, env)
    try:
        for port in (bare_port, sidecar_port):  # both warmed alike (their own sids, left out of the counts)
            warm, _ = build_requests(200, port, prefix="SW")
            load(port, warm, args.concurrency)
        bare_requests, _ = build_requests(args.requests, bare_port)
        bare_rps, bare_p99, _ = load(bare_port, bare_requests, args.concurrency)
        requests, unique = build_requests(args.requests, sidecar_port)
        rps, p99, statuses = load(sidecar_port, requests, args.concurrency)
    finally:
        for process in (bare, sidecar):
            os.killpg(process.pid, 15)
            process.wait(timeout=10)
    print(f"inbound texts: {args.requests} requests ({args.requests - unique} duplicate deliveries), "
          f"{args.concurrency} connections, uvicorn[standard] one process each, PostgreSQL")
    print(f"  bare Starlette 200:   {bare_rps:8.0f} req/s   p99 {bare_p99:6.1f} ms")
    print(f"  sidecar /twilio/sms:  {rps:8.0f} req/s   p99 {p99:6.1f} ms   statuses {statuses}")
    print(f"  ratio sidecar/bare: {rps / bare_rps:.2f} (target >= 0.25); p99 target < 100 ms: "
          f"{'met' if p99 < 100 else 'NOT met'}", flush=True)
    with db.system_session() as session:
        received = session.execute(text("SELECT count(*) FROM webhook_events WHERE status = 'received'")).scalar_one()
    applied, elapsed = drain(args.appliers)
    with db.system_session() as session:
        stored = session.execute(text("SELECT count(*), count(DISTINCT provider_sid) FROM messages "
                                      "WHERE direction = 'inbound' AND provider_sid LIKE 'SM%'")).one()
        events = dict(session.execute(text("SELECT status, count(*) FROM webhook_events "
                                           "WHERE kind = 'sms.inbound' AND event_id LIKE 'SM%' GROUP BY status")).all())
    print(f"applier: {applied} of {received} received events (warm-up included) applied by {args.appliers} loop(s) "
          f"in {elapsed:.1f} s: {applied / elapsed:6.0f} events/s")
    exact = stored[0] == stored[1] == unique == events.get("applied") == sum(events.values())
    verdict = "exactly one per sid" if exact else "MISMATCH"
    print(f"  unique MessageSids sent {unique}; stored inbound messages {stored[0]} with {stored[1]} distinct sids; "
          f"raw events by status {events} -> {verdict}")


def drain(appliers: int) -> tuple[int, float]:
    """Apply every received event with ``appliers`` loops side by side; (events applied, seconds)."""
    counts = [0] * appliers

    def loop(n: int) -> None:
        while taken := webhooks.apply_received_events(PROVIDERS, limit=100):
            counts[n] += taken

    threads = [threading.Thread(target=loop, args=(n,)) for n in range(appliers)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts), time.perf_counter() - start


def worker_bench(args) -> None:
    from kaimen_core.messaging import _send
    from kaimen_core.models import Customer
    from kaimen_core.providers.sms import TwilioProvider
    from kaimen_core.worker import Worker
    from tests.fakes.twilio import FakeTwilio

    with FakeTwilio() as fake:
        os.environ["KAIMEN_TWILIO_API_BASE"] = fake.base_url  # a business's own account is sent to it too
        from kaimen_core import config

        config.reset_settings()
        fake.add_account(OWN_SID, OWN_TOKEN)
        provider = TwilioProvider(fake.account_sid, fake.auth_token, api_base=fake.base_url)
        start = time.perf_counter()
        for n in range(args.texts):
            provider.send(to="+12125550000", from_=NUMBER, body=f"baseline {n}", status_callback=None)
        sdk_rate = args.texts / (time.perf_counter() - start)
        with db.system_session() as session:
            business = session.exec(text("SELECT id FROM businesses WHERE slug = 'bench'")).scalar_one()
            settings = _send.settings_for(session, business)
            settings.rate_per_minute, settings.daily_cap = 100_000, 1_000_000
            person = Customer(business_id=business, name="Bench", phone_e164="+13125550001")
            session.add(person)
            session.flush()
            business_row = session.get(Business, business)
            for n in range(args.texts):
                _send.queue_text(session, business=business_row, customer=person, body=f"Text {n}", kind="manual")
        worker = Worker(provider=provider, name="bench")
        before = len(fake.sent)
        start = time.perf_counter()
        while worker.run_once(limit=20):
            pass
        elapsed = time.perf_counter() - start
        sent = len(fake.sent) - before
    accounts = sorted({record["account_sid"] for record in fake.sent[before:]})
    print(f"worker sends: {sent} texts via the twilio SDK to the fake server (accounts {accounts})")
    print(f"  SDK alone: {sdk_rate:7.0f} texts/s   worker (claim, re-check, send, record): "
          f"{sent / elapsed:7.0f} texts/s   ratio {sent / elapsed / sdk_rate:.2f}")


def own_accounts(others: int = 200) -> None:
    """The bench business and ``others`` more connect their own Twilio accounts (sealed as the app seals them)."""
    from kaimen_core.messaging import _accounts, _send

    SIGNER.update(account_sid=OWN_SID, token=OWN_TOKEN)
    with db.system_session() as session:
        for n in range(others):
            session.add(Business(name=f"Own {n}", slug=f"own-{n}", time_zone="America/New_York", region="US",
                                 messaging_number=f"+1555556{n:04d}"))
        session.flush()
        for business_id, slug in session.execute(text("SELECT id, slug FROM businesses")).all():
            row = _send.settings_for(session, business_id)
            row.twilio_account_sid = OWN_SID if slug == "bench" else "AC" + f"{business_id:032x}"
            row.twilio_auth_token_sealed = _accounts.seal(OWN_TOKEN if slug == "bench" else f"{business_id:032x}",
                                                          business_id=business_id)
            session.add(row)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--appliers", type=int, default=2)
    parser.add_argument("--texts", type=int, default=300)
    parser.add_argument("--own-account", action="store_true",
                        help="the bench business (and 200 others) have their own Twilio account")
    args = parser.parse_args()
    with throwaway.postgres_database("messaging"):
        with db.system_session() as session:
            session.add(Business(name="Bench Salon", slug="bench", time_zone="America/New_York", region="US",
                                 messaging_number=NUMBER))
        if args.own_account:
            own_accounts()
        webhooks_bench(args)
        worker_bench(args)


if __name__ == "__main__":
    main()

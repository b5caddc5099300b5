"""What the usage ledger costs, the way a busy proxy meets it, offline.

Run: ``.venv/bin/python bench/usage.py [--rows N]``.

- record: the time a request's handler spends handing its row to the ledger (on the event
  loop), and the time until that row is committed on disk (by the ledger's thread);
- /usage: the whole report (windows, 24 h and 7 d totals and splits, percentiles, the hourly
  series) with N rows in the ledger, spread over the last 30 days, as a month of heavy use;
- /usage/requests: the last 50 rows;
- the file's size per row.

It prints p50 and p95 in ms.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from speed_report import quantile

from proxy_core.usage.ledger import Ledger
from proxy_core.usage.quota import QuotaBoard
from proxy_core.usage.routes import usage_report
from proxy_core.usage.served import ServedRequest

MODELS = ("sonnet", "opus", "haiku", "claude-sonnet-4-5")
CLIENTS = ("Anthropic/Python", "OpenAI/Python", "codex_cli_rs", "claude-cli", "ai-sdk")


def a_request(at: float, rng: random.Random) -> ServedRequest:
    served = ServedRequest(
        rng.choice(("anthropic", "openai_chat", "openai_responses")),
        rng.choice(MODELS),
        rng.choice(CLIENTS),
        stream=rng.random() < 0.7,
    )
    served.started_at = at
    served.first_token_ms = rng.uniform(30, 900)
    served.tokens = {
        "input_tokens": rng.randint(10, 20_000),
        "output_tokens": rng.randint(1, 4_000),
        "cache_read_input_tokens": rng.randint(0, 50_000),
        "cache_creation_input_tokens": rng.randint(0, 2_000),
    }
    if rng.random() < 0.03:
        served.fail("overloaded_error", "The upstream is overloaded.")
    served.finish(529 if served.error_type else 200)
    return served


def ms(seconds: list[float]) -> str:
    p50, p95 = quantile(seconds, 50) * 1000, quantile(seconds, 95) * 1000
    return f"p50 {p50:8.3f} ms   p95 {p95:8.3f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "usage.db"
        ledger = Ledger(path, retention_days=30)

        handing, committed = [], []
        for _ in range(500):
            served = a_request(time.time(), rng)
            started = time.perf_counter()
            ledger.record(served)
            handing.append(time.perf_counter() - started)
            ledger.flush()
            committed.append(time.perf_counter() - started)
        print(f"record, handed over on the loop    {ms(handing)}")
        print(f"record, until committed on disk     {ms(committed)}")

        now = time.time()
        # In time order, as a proxy writes them.
        for at in sorted(now - rng.uniform(0, 30 * 86400) for _ in range(args.rows)):
            ledger.record(a_request(at, rng))
        ledger.flush(timeout_s=600)
        board = QuotaBoard()
        board.report(
            {
                "unifiedWindows": {
                    "five_hour": {"utilization": 0.42, "resetsAt": int(now + 3600)},
                    "seven_day": {"utilization": 0.13, "resetsAt": int(now + 86400)},
                }
            }
        )

        class Service:  # what usage_report reads: a ledger and a board
            pass

        service = Service()
        service.ledger, service.quota = ledger, board  # type: ignore[attr-defined]
        reports, recents = [], []
        for _ in range(20):
            started = time.perf_counter()
            usage_report(service, time.time())  # type: ignore[arg-type]
            reports.append(time.perf_counter() - started)
            started = time.perf_counter()
            ledger.recent(50)
            recents.append(time.perf_counter() - started)
        rows = args.rows + 500
        print(f"/usage with {rows:>7} rows            {ms(reports)}")
        print(f"/usage/requests (50 rows)           {ms(recents)}")
        ledger.close()
        size = sum(p.stat().st_size for p in Path(folder).iterdir())
        print(f"ledger file: {size / 1e6:.1f} MB for {rows} rows ({size / rows:.0f} bytes a row)")


if __name__ == "__main__":
    main()

"""Responses API speed, the way Codex and agent frameworks meet it, offline.

Run: ``.venv/bin/python bench/responses.py [--runs N]``.

Every request is a streamed ``POST /v1/responses`` shaped like Codex's: a long developer
message, nine function tools and a hosted ``web_search`` (left out), ``reasoning`` set,
``store: false`` (except where ``previous_response_id`` is timed). The model's first answer
is a call to one of the tools. Paths, one proxy process each (``python -m proxy_core``):

- new, cold: a new conversation on a proxy without warm spares;
- new, spare ready: a new conversation once the pool's spare for its shape is up (the bench
  waits for it through /health, as a user who pauses between tasks would meet it);
- new, 0.3 s later: a new conversation 0.3 s after the previous one ended, as a script or an
  agent framework sends them (no waiting for spares);
- next turn, whole input again: the tool's output sent with the whole conversation, as Codex
  and the Agents SDK do;
- next turn, previous_response_id: only the tool's output, chained to the stored response.

It prints first byte (``response.created``), first output (the first ``output_item.added``)
and the end, p50 and p95 in ms, and how many next turns continued their kept CLI.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from speed_paths import TIMEOUT, start_bench_simulator
from speed_processes import ProxyProcess, strays
from speed_report import quantile
from speed_settle import pool_ready, settle

MODEL = "claude-sonnet-4-5"
QUICK_GAP_S = 0.3
_numbers = itertools.count(1)


def _tool(name: str, what: str) -> dict[str, Any]:
    schema = {"type": "object", "properties": {"arg": {"type": "string", "description": what}}}
    return {"type": "function", "name": name, "description": what, "parameters": schema}


# The bench simulator answers any request offering get_weather with a call to it.
TOOLS = [
    _tool("get_weather", "Current weather in a city."),
    *(_tool(f"tool_{n}", f"Bench tool number {n}: does nothing in particular.") for n in range(8)),
    {"type": "web_search"},
]
DEVELOPER = " ".join(f"Rule {n}: keep answers short and exact." for n in range(500))  # ~20 KB


def message(role: str, text: str) -> dict[str, Any]:
    return {"type": "message", "role": role, "content": [{"type": "input_text", "text": text}]}


def opening(text: str) -> list[dict[str, Any]]:
    return [message("developer", DEVELOPER), message("user", text)]


def body(items: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "model": MODEL,
        "input": items,
        "tools": TOOLS,
        "reasoning": {"summary": "auto"},
        "store": False,
        "stream": True,
        "max_output_tokens": 256,
        **extra,
    }


@dataclass
class Sample:
    first_byte_ms: float
    first_output_ms: float
    total_ms: float
    response: dict[str, Any] = field(repr=False, default_factory=dict)


async def stream(session: aiohttp.ClientSession, url: str, payload: dict[str, Any]) -> Sample:
    start = time.perf_counter()
    marks: dict[str, float] = {}
    final: dict[str, Any] = {}
    buffer = b""
    async with session.post(f"{url}/v1/responses", json=payload) as response:
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}: {(await response.read())[:300]!r}")
        async for chunk in response.content.iter_any():
            marks.setdefault("byte", time.perf_counter())
            buffer += chunk
            while b"\n\n" in buffer:
                frame, buffer = buffer.split(b"\n\n", 1)
                if b"data: " not in frame:
                    continue  # a ping (an SSE comment)
                data = json.loads(frame.split(b"data: ", 1)[1])
                if data["type"] == "response.output_item.added":
                    marks.setdefault("output", time.perf_counter())
                elif data["type"] in ("response.completed", "response.failed"):
                    final = data["response"]
    if final.get("status") != "completed":
        raise RuntimeError(f"the response did not complete: {final.get('error')}")
    end = time.perf_counter()

    def since(mark: str) -> float:
        return (marks[mark] - start) * 1000

    return Sample(since("byte"), since("output"), (end - start) * 1000, final)


def next_input(items: list[dict[str, Any]], response: dict[str, Any]) -> list[dict[str, Any]]:
    """The tool outputs for the response's calls, after everything so far."""
    calls = [item for item in response["output"] if item["type"] == "function_call"]
    outputs = [
        {"type": "function_call_output", "call_id": call["call_id"], "output": "18 C, sunny"}
        for call in calls
    ]
    return [*items, *response["output"], *outputs]


async def kept_turns(session: aiohttp.ClientSession, url: str) -> int:
    async with session.get(f"{url}/sessions") as response:
        return max((entry["turns"] for entry in (await response.json())["data"]), default=0)


async def end_sessions(session: aiohttp.ClientSession, url: str) -> None:
    async with session.delete(f"{url}/sessions") as response:
        response.raise_for_status()


@dataclass
class Bench:
    session: aiohttp.ClientSession
    cold: ProxyProcess
    warm: ProxyProcess
    roots: list[Any]
    samples: dict[str, list[Sample]] = field(default_factory=dict)
    continued: dict[str, int] = field(default_factory=dict)

    def note(self, path: str, sample: Sample, counted: bool) -> None:
        if counted:
            self.samples.setdefault(path, []).append(sample)

    async def fresh(self, url: str) -> tuple[list[dict[str, Any]], Sample]:
        items = opening(f"Bench task {next(_numbers)}: what is the weather in Paris?")
        return items, await stream(self.session, url, body(items))

    async def round(self, counted: bool) -> None:
        await settle(self.roots)
        _, sample = await self.fresh(self.cold.url)
        self.note("new, cold (no spares)", sample, counted)
        await settle(self.roots)

        await pool_ready(self.session, self.warm.url, 1)
        await settle(self.roots)
        items, sample = await self.fresh(self.warm.url)
        self.note("new, spare ready", sample, counted)

        # The next turn at once, as Codex sends it after running the tool.
        again = await stream(self.session, self.warm.url, body(next_input(items, sample.response)))
        self.note("next turn, whole input again", again, counted)
        kept = await kept_turns(self.session, self.warm.url) >= 2
        self._count_continued("next turn, whole input again", kept, counted)
        await end_sessions(self.session, self.warm.url)

        await asyncio.sleep(QUICK_GAP_S)
        _, quick = await self.fresh(self.warm.url)
        self.note(f"new, {QUICK_GAP_S} s after the last", quick, counted)
        await end_sessions(self.session, self.warm.url)

        await pool_ready(self.session, self.warm.url, 1)
        await settle(self.roots)
        items = opening(f"Bench task {next(_numbers)}: what is the weather in Paris?")
        first = await stream(self.session, self.warm.url, body(items, store=True))
        outputs = next_input([], first.response)[len(first.response["output"]) :]
        chained = await stream(
            self.session,
            self.warm.url,
            body(outputs, store=True, previous_response_id=first.response["id"]),
        )
        self.note("next turn, previous_response_id", chained, counted)
        kept = await kept_turns(self.session, self.warm.url) >= 2
        self._count_continued("next turn, previous_response_id", kept, counted)
        await end_sessions(self.session, self.warm.url)

    def _count_continued(self, path: str, kept: bool, counted: bool) -> None:
        if counted:
            self.continued[path] = self.continued.get(path, 0) + kept


def report(bench: Bench, runs: int) -> str:
    columns = ("first byte", "p95", "1st output", "p95", "total", "p95", "kept CLI")
    title = f"Responses API, streamed (ms), runs: {runs}"
    lines = [f"{title:<40}" + "".join(f"{column:>11}" for column in columns)]
    for path, samples in bench.samples.items():
        cells = []
        for attribute in ("first_byte_ms", "first_output_ms", "total_ms"):
            values = [getattr(sample, attribute) for sample in samples]
            cells += [quantile(values, 50), quantile(values, 95)]
        kept = f"{bench.continued[path]}/{runs}" if path in bench.continued else "-"
        lines.append(f"{path:<40}" + "".join(f"{cell:>11.1f}" for cell in cells) + f"{kept:>11}")
    lines += [
        "first byte: response.created (sent when the upstream starts, or after the commit wait)",
        "1st output: the first response.output_item.added; total: response.completed",
        "kept CLI: next turns that continued the conversation's kept Claude Code process",
    ]
    return "\n".join(lines)


async def run(runs: int, root: Path) -> tuple[Bench, list[Any]]:
    cold = ProxyProcess("cold", root, {"warm_pool": 0}).start()
    warm = ProxyProcess("warm", root, {}).start()  # the defaults a user gets
    assert cold.process is not None and warm.process is not None
    left: list[Any] = []
    try:
        async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
            bench = Bench(session, cold, warm, [cold.process, warm.process])
            for round_ in range(runs + 1):  # round 0 warms up and shows the pool each shape
                print(f"round {round_} of {runs}", file=sys.stderr, flush=True)
                await bench.round(counted=round_ > 0)
    finally:
        left += cold.stop() + warm.stop()
    return bench, left + strays(root)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, metavar="N", help="rounds timed (10)")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    sim = start_bench_simulator()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-responses-") as tmp:
            bench, left = asyncio.run(run(args.runs, Path(tmp)))
    finally:
        sim.stop()
    print(report(bench, args.runs))
    if left:
        print(f"LEFT BEHIND: {len(left)} process(es)")
    return 1 if left else 0


if __name__ == "__main__":
    raise SystemExit(main())

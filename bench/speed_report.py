"""The bench's report: the sequential and concurrent tables, memory, and the targets met."""

from __future__ import annotations

import argparse
import os
import statistics
from dataclasses import dataclass

import psutil
from speed_paths import KINDS, MODEL, Sample
from speed_phases import HAS_WARM_POOL, PATHS, WARM_POOL, Load, Timings
from speed_processes import MB
from speed_settle import SETTLING
from speed_tray import TrayResult

from proxy_core.config import Settings

TARGET_WARM_MS, TARGET_CONTINUED_MS, TARGET_TRAY_MB = 100.0, 50.0, 80.0


def tray_lines(title: str, tray: TrayResult) -> list[str]:
    return [
        f"{title:<62}" + (f"{tray.rss / MB:>10.1f}" if tray.rss else f"{'-':>10}"),
        f"{'  its USS (pages no other process shares)':<62}{tray.uss / MB:>10.1f}",
        f"  ({tray.note})",
    ]


@dataclass
class Results:
    timings: Timings
    reused: int
    loads: list[Load]
    memory: list[tuple[str, str]]
    # Idle with CLAUDE_PROXY_PRELOAD_SDK=0 (the target's set-up), and with the defaults.
    tray: TrayResult
    tray_preloaded: TrayResult
    left: list[psutil.Process]
    upstream_calls: int


def quantile(values: list[float], percent: int) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=20, method="inclusive")[percent // 5 - 1]


def p50(samples: list[Sample], attribute: str = "ttfb_ms") -> float:
    return quantile([getattr(sample, attribute) for sample in samples], 50)


def figures(samples: list[Sample]) -> str:
    cells = []
    for attribute in ("ttfb_ms", "total_ms"):
        values = [getattr(sample, attribute) for sample in samples]
        cells += [quantile(values, 50), quantile(values, 95)]
    return "".join(f"{cell:>10.1f}" for cell in cells)


def sequential_lines(timings: Timings, runs: int) -> list[str]:
    columns = ("TTFB p50", "p95", "total p50", "p95", "+sim", "upstream", "relay")
    head = f"{f'Sequential requests (ms), runs: {runs}':<38}{'kind':<7}"
    lines = [head + "".join(f"{column:>10}" for column in columns)]
    for path, label in PATHS.items():
        for kind in KINDS:
            samples = timings[path][kind]
            tail = f"{'':>10}" * 3
            if path != "simulator":
                extra = p50(samples) - p50(timings["simulator"][kind])
                upstream, relay = p50(samples, "upstream_ms"), p50(samples, "relay_ms")
                tail = f"{extra:>+10.1f}{upstream:>10.1f}{relay:>10.1f}"
            lines.append(f"{label if kind == 'plain' else '':<38}{kind:<7}{figures(samples)}{tail}")
    lines += [
        "TTFB: first body byte (SDK: its message_start event); total: last byte (message_stop)",
        "+sim: TTFB p50 minus the simulator's own TTFB p50 for the same kind",
        "upstream: when the simulator got the call; relay: TTFB minus that (p50 of each request's)",
        "plain: non-streaming; stream: streaming text; tool: streaming, answered with a tool call",
    ]
    return lines


def load_lines(loads: list[Load]) -> list[str]:
    names = ("requests", "failed", "early", "req/s", "TTFB p50", "p95", "total p50", "p95")
    lines = [f"{'Concurrent clients, streaming (ms)':<36}" + "".join(f"{n:>10}" for n in names)]
    for load in loads:
        good = [sample for sample in load.samples if sample.error is None]
        failed = len(load.samples) - len(good)
        early = sum(sample.early_start for sample in load.samples)
        rate = len(load.samples) / load.wall_s
        counts = f"{len(load.samples):>10}{failed:>10}{early:>10}{rate:>10.2f}"
        timing = figures(good) if good else f"{'-':>10}" * 4
        lines.append(f"{f'{load.clients} at once':<36}{counts}{timing}")
    lines.append(
        "each client its own connection, requests one after another, each a new conversation;"
    )
    lines.append("early: streams the proxy committed with its own message_start after waiting")
    errors = {sample.error for load in loads for sample in load.samples if sample.error}
    lines += [f"  failure: {error}" for error in sorted(errors)[:5]]
    return lines


def verdict(ok: bool, text: str) -> str:
    return f"{'met' if ok else 'NOT MET':<9}{text}"


def target_lines(results: Results, runs: int) -> list[str]:
    timings = results.timings

    def worst(path: str) -> tuple[float, str]:
        extra = {k: p50(timings[path][k]) - p50(timings["simulator"][k]) for k in KINDS}
        kind = max(extra, key=lambda k: extra[k])
        return extra[kind], kind

    warm, warm_kind = worst("warm")
    cold, cold_kind = worst("cold")
    kept, kept_kind = worst("continued")
    busiest = results.loads[-1]
    failed = sum(sample.error is not None for sample in busiest.samples)
    defaults = Settings()
    limits = f"max_concurrent {defaults.max_concurrent}, max_queue {defaults.max_queue}"
    lines = [
        verdict(
            warm <= TARGET_WARM_MS,
            f"warm pool adds <= {TARGET_WARM_MS:.0f} ms p50 to the simulator's first byte: "
            f"{warm:+.1f} ms (worst kind: {warm_kind})",
        ),
        f"{'info':<9}cold spawn adds {cold:+.1f} ms p50 (worst kind: {cold_kind})",
        verdict(
            kept < TARGET_CONTINUED_MS,
            f"continued conversation adds < {TARGET_CONTINUED_MS:.0f} ms to the first byte: "
            f"{kept:+.1f} ms (worst kind: {kept_kind})",
        ),
    ]
    tray = results.tray
    if tray.rss is None:
        lines.append(f"{'unknown':<9}idle tray app < {TARGET_TRAY_MB:.0f} MB RSS: {tray.note}")
    else:
        lines.append(
            verdict(
                tray.rss / MB < TARGET_TRAY_MB,
                f"idle tray app < {TARGET_TRAY_MB:.0f} MB RSS excluding CLIs, "
                f"CLAUDE_PROXY_PRELOAD_SDK=0: {tray.rss / MB:.1f} MB",
            )
        )
    lines.append(
        verdict(
            failed == 0,
            f"no failed request at {busiest.clients} concurrent clients ({limits}): "
            f"{failed} of {len(busiest.samples)} failed",
        )
    )
    if not HAS_WARM_POOL:
        lines.append("NOTE: Settings has no warm_pool field here: (c) ran without a warm pool")
    lines.append(f"continued conversations answered by their kept CLI: {results.reused}"
                 f" of {runs * len(KINDS)}")  # fmt: skip
    return lines


def readiness_line() -> str:
    if not HAS_WARM_POOL:
        return "warm pool readiness: not checked, there is no warm pool"
    return (
        "warm pool readiness, read from the warm proxy's GET /health (clis_waiting.spares: one"
        f" per spawn key it has served, at most {WARM_POOL}) before and after each of its"
        f" requests: {SETTLING.ready_checks} checks, {SETTLING.ready_waited} waited,"
        f" {SETTLING.ready_seconds:.0f} s in all, {SETTLING.ready_timeouts} timed out"
    )


def report(results: Results, args: argparse.Namespace, elapsed_s: float) -> str:
    pool = "present" if HAS_WARM_POOL else "MISSING (no warm pool on this branch)"
    # Per round and kind: simulator, SDK, cold, warm, and a continued conversation's two turns.
    expected_calls = (args.runs + 1) * len(KINDS) * 6 + sum(
        sample.error is None for load in results.loads for sample in load.samples
    )
    lines = [
        f"claude-sdk-proxy speed: upstream simulator, {os.cpu_count()} CPUs, model {MODEL}, "
        f"{elapsed_s:.0f} s; Settings.warm_pool {pool}",
        "",
        *sequential_lines(results.timings, args.runs),
        "",
        *load_lines(results.loads),
        "",
        f"{'Memory (RSS, MB = 10^6 bytes)':<62}{'MB':>10}",
        *(f"{name:<62}{value:>10}" for name, value in results.memory),
        *tray_lines("tray app process RSS idle, SDK preloaded (default)", results.tray_preloaded),
        *tray_lines("tray app process RSS idle, CLAUDE_PROXY_PRELOAD_SDK=0", results.tray),
        "",
        "Targets",
        *target_lines(results, args.runs),
        f"upstream /v1/messages calls: {results.upstream_calls} (expected {expected_calls}: one"
        " per request that reached it)",
        f"settling between requests: {SETTLING.waits} waits for CPU quiet, "
        f"{SETTLING.seconds:.0f} s in all; {SETTLING.timeouts} timed out "
        f"({SETTLING.ready_timeouts} of them waiting for the warm pool)",
        readiness_line(),
        f"CLI processes left after the run: {len(results.left)}",
    ]
    return "\n".join(lines)

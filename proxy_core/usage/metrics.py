"""GET /metrics: the proxy's figures in the Prometheus text format (prometheus_client).

Each server has a registry of its own (never the library's global one), so a
restarted server, or two in one test process, never clash. What is counted per
request is fed by the ledger's record; what is a level (queue, CLIs, windows) is
read when scraped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from proxy_core.usage.quota import Window
from proxy_core.usage.served import USAGE_COUNTS, ServedRequest

# The *_created series double what a scrape shows and no dashboard of ours reads them.
disable_created_metrics()  # type: ignore[no-untyped-call]
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Callers name models freely; past this many, the rest share one label value.
MAX_MODEL_LABELS = 32
FIRST_TOKEN_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
DURATION_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0)


@dataclass
class Levels:
    """What the server holds right now."""

    active: int = 0
    queued: int = 0
    clis: dict[str, int] = field(default_factory=dict)
    windows: list[Window] = field(default_factory=list)


class _LevelsCollector(Collector):
    def __init__(self, read: Callable[[], Levels]) -> None:
        self._read = read

    def collect(self) -> Iterator[Metric]:
        levels = self._read()
        yield GaugeMetricFamily(
            "claude_proxy_requests_active", "Requests being answered now", value=levels.active
        )
        yield GaugeMetricFamily(
            "claude_proxy_requests_queued", "Requests waiting for a free slot", value=levels.queued
        )
        clis = GaugeMetricFamily(
            "claude_proxy_clis_waiting",
            "Claude Code CLIs held between requests (kept conversations, warm spares)",
            labels=["kind"],
        )
        for kind, count in sorted(levels.clis.items()):
            clis.add_metric([kind], count)
        yield clis
        used = GaugeMetricFamily(
            "claude_proxy_quota_utilization",
            "Used fraction of each subscription window, as last reported by the upstream",
            labels=["window"],
        )
        resets = GaugeMetricFamily(
            "claude_proxy_quota_resets_at_seconds",
            "When each subscription window resets (Unix time)",
            labels=["window"],
        )
        rejected = GaugeMetricFamily(
            "claude_proxy_quota_rejected", "1 while a window refuses requests", labels=["window"]
        )
        for window in levels.windows:
            if window.utilization is not None:
                used.add_metric([window.name], window.utilization)
            if window.resets_at is not None:
                resets.add_metric([window.name], window.resets_at)
            rejected.add_metric([window.name], 1.0 if window.status == "rejected" else 0.0)
        yield from (used, resets, rejected)


class Metrics:
    def __init__(self, levels: Callable[[], Levels]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._models: set[str] = set()
        self._requests = Counter(
            "claude_proxy_requests",
            "Requests answered, by API, model and HTTP status",
            ["api", "model", "status"],
            registry=self.registry,
        )
        self._errors = Counter(
            "claude_proxy_request_errors",
            "Requests that failed, by API and error type (in-stream errors included)",
            ["api", "error_type"],
            registry=self.registry,
        )
        self._first_token = Histogram(
            "claude_proxy_first_token_seconds",
            "Time from the request to the first token of the answer",
            ["api"],
            buckets=FIRST_TOKEN_BUCKETS,
            registry=self.registry,
        )
        self._duration = Histogram(
            "claude_proxy_request_duration_seconds",
            "Time from the request to the end of its answer",
            ["api"],
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self._tokens = Counter(
            "claude_proxy_tokens",
            "Tokens served, by kind (input, output, cache_read_input, cache_creation_input)",
            ["kind", "model"],
            registry=self.registry,
        )
        self.registry.register(_LevelsCollector(levels))

    def _model_label(self, model: str) -> str:
        if model in self._models or len(self._models) < MAX_MODEL_LABELS:
            self._models.add(model)
            return model
        return "other"

    def observe(self, served: ServedRequest) -> None:
        model = self._model_label(served.model)
        self._requests.labels(served.api, model, str(served.status)).inc()
        if served.error_type is not None:
            self._errors.labels(served.api, served.error_type).inc()
        if served.first_token_ms is not None:
            self._first_token.labels(served.api).observe(served.first_token_ms / 1000)
        if served.total_ms is not None:
            self._duration.labels(served.api).observe(served.total_ms / 1000)
        for name in USAGE_COUNTS:
            count = served.tokens.get(name, 0)
            if count:
                self._tokens.labels(name.removesuffix("_tokens"), model).inc(count)

    def render(self) -> bytes:
        return generate_latest(self.registry)

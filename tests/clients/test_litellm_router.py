"""Teams: one proxy per subscription, LiteLLM's Router in front, as the README's recipe says."""

from __future__ import annotations

from typing import Any

import pytest

from proxy_core.server import ProxyServer
from proxy_core.testing.upstream_simulator import DEFAULT_TEXT, UpstreamSimulator
from tests.api.test_errors import raw_request
from tests.conftest import ProxyFactory

# A real client's own start and run, beyond the suite's 60 s per test.
pytestmark = pytest.mark.timeout(300)


REQUESTS = 16  # all on one instance by chance: 2 in 65,536


@pytest.fixture(autouse=True)
def _offline_litellm(monkeypatch: pytest.MonkeyPatch) -> None:
    # LiteLLM fetches its model price list from the web at import unless told otherwise.
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")


def router_over(instances: list[tuple[ProxyServer, str]]) -> Any:
    from litellm import Router

    deployments = [
        {
            "model_name": "claude",
            "litellm_params": {
                "model": "anthropic/claude-sonnet-4-5",
                "api_base": proxy.base_url,
                "api_key": key,
            },
        }
        for proxy, key in instances
    ]
    # A deployment that fails is left alone for a while instead of being probed with real
    # requests, which would spend its subscription's quota.
    return Router(
        model_list=deployments,
        routing_strategy="simple-shuffle",
        num_retries=2,
        allowed_fails=1,
        cooldown_time=30,
    )


def served(proxy: ProxyServer, key: str) -> int:
    _, _, health = raw_request(proxy.base_url, "GET", "/health", headers={"x-api-key": key})
    return int(health["requests"]["served"])


@pytest.mark.compat("LiteLLM Router", "plain")
def test_the_router_spreads_requests_over_two_instances_and_skips_one_that_is_down(
    make_proxy: ProxyFactory, sim: UpstreamSimulator
) -> None:
    instances = [(make_proxy(api_key=key, warm_pool=1), key) for key in ("team-a", "team-b")]
    router = router_over(instances)

    for number in range(REQUESTS):
        reply = router.completion(
            model="claude", messages=[{"role": "user", "content": f"question {number}"}]
        )
        assert reply.choices[0].message.content == DEFAULT_TEXT

    counts = [served(proxy, key) for proxy, key in instances]
    assert sum(counts) == REQUESTS and min(counts) >= 1, counts

    down, _ = instances[1]
    down.stop()
    for number in range(4):
        reply = router.completion(
            model="claude", messages=[{"role": "user", "content": f"after {number}"}]
        )
        assert reply.choices[0].message.content == DEFAULT_TEXT
    assert served(*instances[0]) == counts[0] + 4

"""The CLI's environment: parent-session variables, auth mode, base URL and overrides."""

from __future__ import annotations

import pytest

from proxy_core.backend.environment import (
    AUTH_MODE_API_KEY,
    AUTH_MODE_SUBSCRIPTION,
    DEFAULT_UPSTREAM,
    auth_mode,
    cli_overrides,
    drop_parent_session_variables,
    is_parent_session_variable,
    points_at_proxy,
)

PORT = 3456


# --- parent session variables ----------------------------------------------------------


def test_drop_parent_session_variables_removes_them_and_keeps_the_rest() -> None:
    environ = {
        "CLAUDECODE": "1",
        "CLAUDE_CODE_ENTRYPOINT": "cli",
        "CLAUDE_CODE_SSE_PORT": "51234",
        "CLAUDE_CODE_SESSION_ID": "abc",
        "CLAUDE_BRIDGE_TOKEN": "t",
        "CLAUDE_BRIDGE_URL": "ws://x",
        "CLAUDE_PTY_ID": "3",
        "CLAUDE_BG_TASK": "1",
        "HTTPS_PROXY": "http://corp:8080",
        "CLAUDE_CODE_MAX_OUTPUT_TOKENS": "64000",
        "ANTHROPIC_API_KEY": "sk-ant-x",
        "ANTHROPIC_BASE_URL": "https://gateway.example",
        "PATH": "/usr/bin",
        "CLAUDE_PROXY_PORT": "4000",
    }
    removed = drop_parent_session_variables(environ)
    assert removed == sorted(removed)
    assert set(removed) == {
        "CLAUDECODE",
        "CLAUDE_CODE_ENTRYPOINT",
        "CLAUDE_CODE_SSE_PORT",
        "CLAUDE_CODE_SESSION_ID",
        "CLAUDE_BRIDGE_TOKEN",
        "CLAUDE_BRIDGE_URL",
        "CLAUDE_PTY_ID",
        "CLAUDE_BG_TASK",
    }
    assert environ == {
        "HTTPS_PROXY": "http://corp:8080",
        "CLAUDE_CODE_MAX_OUTPUT_TOKENS": "64000",
        "ANTHROPIC_API_KEY": "sk-ant-x",
        "ANTHROPIC_BASE_URL": "https://gateway.example",
        "PATH": "/usr/bin",
        "CLAUDE_PROXY_PORT": "4000",
    }


def test_drop_parent_session_variables_on_a_clean_environment_removes_nothing() -> None:
    environ = {"HOME": "/home/me", "HTTPS_PROXY": "http://corp:8080"}
    assert drop_parent_session_variables(environ) == []
    assert environ == {"HOME": "/home/me", "HTTPS_PROXY": "http://corp:8080"}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("CLAUDECODE", True),
        ("CLAUDE_AGENT_SDK_VERSION", True),
        ("CLAUDE_CODE_EXECPATH", True),
        ("CLAUDE_BRIDGE_ANYTHING", True),
        ("CLAUDE_CODE_MAX_OUTPUT_TOKENS", False),
        ("CLAUDE_CODE_USE_BEDROCK", False),
        ("CLAUDE_CONFIG_DIR", False),
        ("claudecode", False),
        ("MY_CLAUDECODE", False),
    ],
)
def test_is_parent_session_variable(name: str, expected: bool) -> None:
    assert is_parent_session_variable(name) is expected


# --- auth mode ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "mode"),
    [
        ({}, AUTH_MODE_SUBSCRIPTION),
        ({"ANTHROPIC_API_KEY": ""}, AUTH_MODE_SUBSCRIPTION),
        ({"ANTHROPIC_API_KEY": "sk-ant-123"}, AUTH_MODE_API_KEY),
        ({"ANTHROPIC_AUTH_TOKEN": "tok"}, AUTH_MODE_API_KEY),
        ({"CLAUDE_CODE_OAUTH_TOKEN": "oauth"}, AUTH_MODE_SUBSCRIPTION),
        # A shell set up for the proxy's clients: its key is their placeholder, not the CLI's.
        (
            {"ANTHROPIC_API_KEY": "unused", "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{PORT}"},
            AUTH_MODE_SUBSCRIPTION,
        ),
    ],
)
def test_auth_mode(environ: dict[str, str], mode: str) -> None:
    assert auth_mode(environ, PORT) == mode


# --- points_at_proxy ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "base_url",
    [
        f"http://127.0.0.1:{PORT}",
        f"http://127.0.0.1:{PORT}/",
        f"http://127.0.0.1:{PORT}/v1",
        f"http://localhost:{PORT}",
        f"http://LOCALHOST:{PORT}",
        f"http://[::1]:{PORT}",
        f"http://0.0.0.0:{PORT}",
        f"http://127.0.0.2:{PORT}",
        f"https://localhost:{PORT}",
    ],
)
def test_local_urls_on_the_proxy_port_point_at_the_proxy(base_url: str) -> None:
    assert points_at_proxy(base_url, PORT) is True


@pytest.mark.parametrize(
    "base_url",
    [
        f"http://127.0.0.1:{PORT + 1}",
        f"http://localhost:{PORT + 1}",
        f"http://[::1]:{PORT + 1}",
        f"http://0.0.0.0:{PORT - 1}",
        "http://localhost",
        "https://localhost",
    ],
)
def test_local_urls_on_another_port_do_not(base_url: str) -> None:
    assert points_at_proxy(base_url, PORT) is False


@pytest.mark.parametrize(
    "base_url",
    [
        f"http://example.com:{PORT}",
        f"https://gateway.example:{PORT}",
        f"http://10.0.0.5:{PORT}",
        f"http://[2001:db8::1]:{PORT}",
        "https://api.anthropic.com",
    ],
)
def test_remote_hosts_do_not(base_url: str) -> None:
    assert points_at_proxy(base_url, PORT) is False


def test_default_ports_follow_the_scheme() -> None:
    assert points_at_proxy("http://localhost", 80) is True
    assert points_at_proxy("https://localhost", 443) is True
    assert points_at_proxy("https://localhost", 80) is False


@pytest.mark.parametrize("base_url", ["http://localhost:notaport", "http://[::1:3456"])
def test_malformed_urls_do_not_point_at_the_proxy(base_url: str) -> None:
    assert points_at_proxy(base_url, PORT) is False


# --- cli_overrides ------------------------------------------------------------------------


def overrides(environ: dict[str, str], **kwargs: int) -> dict[str, str]:
    options = {"proxy_port": PORT, "cli_retries": 0, "api_timeout_ms": 600_000, **kwargs}
    return cli_overrides(environ, **options)


def test_fixed_overrides() -> None:
    result = overrides({}, cli_retries=3, api_timeout_ms=123_456)
    assert result["CLAUDE_CODE_DISABLE_EXPERIMENTAL_BETAS"] == "1"
    assert result["CLAUDE_CODE_MAX_RETRIES"] == "3"
    assert result["API_TIMEOUT_MS"] == "123456"
    assert result["DISABLE_AUTO_COMPACT"] == "1"
    assert result["CLAUDE_CODE_DISABLE_NONSTREAMING_FALLBACK"] == "1"
    assert result["CLAUDE_AGENT_SDK_MCP_NO_PREFIX"] == "1"
    assert result["ENABLE_TOOL_SEARCH"] == "false"
    assert result["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] == "1"
    assert "ANTHROPIC_BASE_URL" not in result


def test_retries_default_to_zero() -> None:
    assert overrides({})["CLAUDE_CODE_MAX_RETRIES"] == "0"


def test_all_override_values_are_strings() -> None:
    assert all(isinstance(value, str) for value in overrides({}).values())


def test_users_nonessential_traffic_choice_is_kept() -> None:
    result = overrides({"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "0"})
    assert result["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] == "0"


@pytest.mark.parametrize(
    "base_url", [f"http://127.0.0.1:{PORT}", f"http://localhost:{PORT}/", f"http://[::1]:{PORT}"]
)
def test_self_pointing_base_url_is_replaced_by_the_real_upstream(base_url: str) -> None:
    environ = {"ANTHROPIC_BASE_URL": base_url, "ANTHROPIC_API_KEY": "placeholder-for-clients"}
    result = overrides(environ)
    assert result["ANTHROPIC_BASE_URL"] == DEFAULT_UPSTREAM == "https://api.anthropic.com"
    # The key beside it is the clients' placeholder: blanked, so the CLI uses the subscription.
    assert result["ANTHROPIC_API_KEY"] == "" and result["ANTHROPIC_AUTH_TOKEN"] == ""
    assert environ["ANTHROPIC_BASE_URL"] == base_url


@pytest.mark.parametrize(
    "base_url", [f"http://127.0.0.1:{PORT + 1}", "https://gateway.example", ""]
)
def test_other_base_urls_are_left_alone(base_url: str) -> None:
    assert "ANTHROPIC_BASE_URL" not in overrides({"ANTHROPIC_BASE_URL": base_url})


def test_overrides_follow_the_proxy_port() -> None:
    environ = {"ANTHROPIC_BASE_URL": "http://localhost:8080"}
    assert "ANTHROPIC_BASE_URL" not in overrides(environ, proxy_port=PORT)
    assert overrides(environ, proxy_port=8080)["ANTHROPIC_BASE_URL"] == DEFAULT_UPSTREAM


def test_api_key_is_never_overridden() -> None:
    assert "ANTHROPIC_API_KEY" not in overrides({"ANTHROPIC_API_KEY": "sk-ant-x"})

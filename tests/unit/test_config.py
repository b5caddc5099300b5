"""load_settings: defaults < config file < environment < overrides, and validation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from proxy_core.config import (
    DEFAULT_MAX_CONCURRENT,
    DEFAULT_MODEL,
    DEFAULT_PORT,
    ConfigError,
    Settings,
    load_settings,
    read_config_file,
)


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    return tmp_path / "config.json"


@pytest.fixture
def base_env(tmp_path: Path) -> dict[str, str]:
    # Keep every directory inside tmp_path, away from the real user's.
    return {"CLAUDE_PROXY_DATA_DIR": str(tmp_path / "data")}


def write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def load(
    config_path: Path,
    environ: dict[str, str] | None = None,
    overrides: dict[str, Any] | None = None,
) -> Settings:
    return load_settings(environ=environ or {}, config_path=config_path, overrides=overrides)


# --- precedence -------------------------------------------------------------------------


def test_defaults_without_file_env_or_overrides(config_path: Path, tmp_path: Path) -> None:
    settings = load(config_path, {"CLAUDE_PROXY_DATA_DIR": str(tmp_path / "d")})
    assert settings.host == "127.0.0.1"
    assert settings.port == DEFAULT_PORT
    assert settings.max_concurrent == DEFAULT_MAX_CONCURRENT
    assert settings.max_queue == 4 * DEFAULT_MAX_CONCURRENT  # 16 clients at once fit
    assert settings.warm_pool == 2
    assert settings.default_model == DEFAULT_MODEL
    assert settings.api_key is None
    assert settings.debug is False
    assert settings.data_dir == tmp_path / "d"
    assert settings.work_dir == tmp_path / "d" / "cli-workdir"


def test_file_overrides_defaults(config_path: Path, base_env: dict[str, str]) -> None:
    write(config_path, {"port": 4000, "default_model": "opus", "debug": True})
    settings = load(config_path, base_env)
    assert settings.port == 4000
    assert settings.default_model == "opus"
    assert settings.debug is True


def test_env_overrides_file(config_path: Path, base_env: dict[str, str]) -> None:
    write(config_path, {"port": 4000, "default_model": "opus"})
    settings = load(config_path, {**base_env, "CLAUDE_PROXY_PORT": "5000"})
    assert settings.port == 5000
    assert settings.default_model == "opus"


def test_overrides_win_over_env_and_file(config_path: Path, base_env: dict[str, str]) -> None:
    write(config_path, {"port": 4000, "host": "127.0.0.1"})
    environ = {**base_env, "CLAUDE_PROXY_PORT": "5000", "CLAUDE_PROXY_HOST": "localhost"}
    settings = load(config_path, environ, {"port": 6000})
    assert settings.port == 6000
    assert settings.host == "localhost"


def test_none_overrides_are_ignored(config_path: Path, base_env: dict[str, str]) -> None:
    environ = {**base_env, "CLAUDE_PROXY_PORT": "5000", "CLAUDE_PROXY_DEBUG": "1"}
    settings = load(config_path, environ, {"port": None, "host": None, "debug": None})
    assert settings.port == 5000
    assert settings.debug is True


def test_empty_env_values_are_ignored(config_path: Path, base_env: dict[str, str]) -> None:
    write(config_path, {"port": 4000})
    settings = load(config_path, {**base_env, "CLAUDE_PROXY_PORT": ""})
    assert settings.port == 4000


def test_every_env_variable_is_read(config_path: Path, tmp_path: Path) -> None:
    environ = {
        "CLAUDE_PROXY_DATA_DIR": str(tmp_path / "data"),
        "CLAUDE_PROXY_HOST": "0.0.0.0",
        "CLAUDE_PROXY_PORT": "8080",
        "CLAUDE_PROXY_API_KEY": "secret-key",
        "CLAUDE_PROXY_MAX_CONCURRENT": "3",
        "CLAUDE_PROXY_MAX_QUEUE": "1",
        "CLAUDE_PROXY_QUEUE_TIMEOUT_S": "2.5",
        "CLAUDE_PROXY_TIMEOUT_MS": "1000",
        "CLAUDE_PROXY_IDLE_TIMEOUT_S": "9.5",
        "CLAUDE_PROXY_PING_INTERVAL_S": "0.5",
        "CLAUDE_PROXY_SHUTDOWN_GRACE_S": "1",
        "CLAUDE_PROXY_CLI_RETRIES": "2",
        "CLAUDE_PROXY_CLI_PATH": "/opt/claude",
        "CLAUDE_PROXY_DEFAULT_MODEL": "haiku",
        "CLAUDE_PROXY_DEBUG": "yes",
        "CLAUDE_PROXY_WARM_POOL": "0",
    }
    settings = load(config_path, environ)
    assert settings == Settings(
        host="0.0.0.0",
        port=8080,
        api_key="secret-key",
        max_concurrent=3,
        max_queue=1,
        queue_timeout_s=2.5,
        timeout_ms=1000,
        idle_timeout_s=9.5,
        ping_interval_s=0.5,
        shutdown_grace_s=1.0,
        cli_retries=2,
        cli_path="/opt/claude",
        default_model="haiku",
        warm_pool=0,
        debug=True,
        data_dir=tmp_path / "data",
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1", True), ("true", True), ("YES", True), (" on ", True), ("0", False), ("no", False)],
)
def test_debug_env_values(
    config_path: Path, base_env: dict[str, str], raw: str, expected: bool
) -> None:
    assert load(config_path, {**base_env, "CLAUDE_PROXY_DEBUG": raw}).debug is expected


def test_data_dir_can_come_from_the_file(config_path: Path, base_env: dict[str, str]) -> None:
    write(config_path, {"data_dir": "/srv/proxy"})
    assert load(config_path, base_env).data_dir == Path("/srv/proxy")


def test_missing_file_is_no_settings(config_path: Path) -> None:
    assert not config_path.exists()
    assert read_config_file(config_path) == {}


def test_config_path_defaults_to_the_config_dir_from_environ(tmp_path: Path) -> None:
    config_dir = tmp_path / "cfg"
    config_dir.mkdir()
    write(config_dir / "config.json", {"port": 4321})
    environ = {
        "CLAUDE_PROXY_CONFIG_DIR": str(config_dir),
        "CLAUDE_PROXY_DATA_DIR": str(tmp_path / "data"),
    }
    assert load_settings(environ=environ).port == 4321


# --- max_queue -------------------------------------------------------------------------------


def test_max_queue_follows_max_concurrent_from_env(
    config_path: Path, base_env: dict[str, str]
) -> None:
    settings = load(config_path, {**base_env, "CLAUDE_PROXY_MAX_CONCURRENT": "7"})
    assert settings.max_concurrent == 7
    assert settings.max_queue == 28


def test_max_queue_follows_max_concurrent_from_file(
    config_path: Path, base_env: dict[str, str]
) -> None:
    write(config_path, {"max_concurrent": 3})
    assert load(config_path, base_env).max_queue == 12


def test_explicit_max_queue_is_kept(config_path: Path, base_env: dict[str, str]) -> None:
    write(config_path, {"max_queue": 1})
    settings = load(config_path, {**base_env, "CLAUDE_PROXY_MAX_CONCURRENT": "7"})
    assert settings.max_concurrent == 7
    assert settings.max_queue == 1


def test_max_queue_zero_is_allowed(config_path: Path, base_env: dict[str, str]) -> None:
    assert load(config_path, {**base_env, "CLAUDE_PROXY_MAX_QUEUE": "0"}).max_queue == 0


def test_max_queue_follows_max_concurrent_from_overrides(
    config_path: Path, base_env: dict[str, str]
) -> None:
    assert load(config_path, base_env, {"max_concurrent": 8}).max_queue == 32


# --- bad values ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "raw"),
    [
        ("CLAUDE_PROXY_PORT", "eighty"),
        ("CLAUDE_PROXY_PORT", "80.5"),
        ("CLAUDE_PROXY_MAX_CONCURRENT", "many"),
        ("CLAUDE_PROXY_QUEUE_TIMEOUT_S", "soon"),
        ("CLAUDE_PROXY_TIMEOUT_MS", "1e3x"),
        ("CLAUDE_PROXY_CLI_RETRIES", "two"),
    ],
)
def test_unparsable_env_value_names_the_variable(
    config_path: Path, base_env: dict[str, str], variable: str, raw: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load(config_path, {**base_env, variable: raw})
    assert variable in str(info.value)
    assert repr(raw) in str(info.value)


def test_unparsable_file_value_names_the_file_and_key(
    config_path: Path, base_env: dict[str, str]
) -> None:
    write(config_path, {"port": "eighty"})
    with pytest.raises(ConfigError) as info:
        load(config_path, base_env)
    assert str(config_path) in str(info.value)
    assert "port" in str(info.value)


def test_unparsable_override_names_the_flag(config_path: Path, base_env: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="--max-concurrent"):
        load(config_path, base_env, {"max_concurrent": "lots"})


@pytest.mark.parametrize(
    ("variable", "raw", "field"),
    [
        ("CLAUDE_PROXY_PORT", "70000", "port"),
        ("CLAUDE_PROXY_PORT", "-1", "port"),
        ("CLAUDE_PROXY_MAX_CONCURRENT", "0", "max_concurrent"),
        ("CLAUDE_PROXY_MAX_QUEUE", "-1", "max_queue"),
        ("CLAUDE_PROXY_CLI_RETRIES", "16", "cli_retries"),
        ("CLAUDE_PROXY_CLI_RETRIES", "-1", "cli_retries"),
        ("CLAUDE_PROXY_TIMEOUT_MS", "0", "timeout_ms must be positive"),
        ("CLAUDE_PROXY_IDLE_TIMEOUT_S", "-5", "idle_timeout_s must be positive"),
        ("CLAUDE_PROXY_PING_INTERVAL_S", "0", "ping_interval_s must be positive"),
    ],
)
def test_out_of_range_values_are_refused(
    config_path: Path, base_env: dict[str, str], variable: str, raw: str, field: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load(config_path, {**base_env, variable: raw})
    assert field in str(info.value)


@pytest.mark.parametrize("port", ["0", "65535"])
def test_port_bounds_are_inclusive(config_path: Path, base_env: dict[str, str], port: str) -> None:
    assert load(config_path, {**base_env, "CLAUDE_PROXY_PORT": port}).port == int(port)


def test_unknown_file_keys_are_rejected(config_path: Path, base_env: dict[str, str]) -> None:
    write(config_path, {"port": 4000, "prot": 4001, "colour": "blue"})
    with pytest.raises(ConfigError) as info:
        load(config_path, base_env)
    assert "colour, prot" in str(info.value)
    assert "unknown setting" in str(info.value)


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '"port"', ""])
def test_unreadable_or_non_object_file_is_refused(
    config_path: Path, base_env: dict[str, str], content: str
) -> None:
    config_path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load(config_path, base_env)
    assert str(config_path) in str(info.value)


def test_config_error_is_a_value_error() -> None:
    assert issubclass(ConfigError, ValueError)


# --- secrets and derived values ----------------------------------------------------------------


def test_api_key_is_not_in_repr(config_path: Path, base_env: dict[str, str]) -> None:
    settings = load(config_path, {**base_env, "CLAUDE_PROXY_API_KEY": "sk-very-secret"})
    assert settings.api_key == "sk-very-secret"
    assert "sk-very-secret" not in repr(settings)
    assert "api_key=" not in repr(settings)
    assert "sk-very-secret" not in str(settings)


def test_empty_api_key_in_file_means_none(config_path: Path, base_env: dict[str, str]) -> None:
    write(config_path, {"api_key": ""})
    assert load(config_path, base_env).api_key is None


def test_settings_are_frozen(config_path: Path, base_env: dict[str, str]) -> None:
    settings = load(config_path, base_env)
    with pytest.raises(AttributeError):
        settings.port = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("host", "url", "loopback_only"),
    [
        ("127.0.0.1", "http://127.0.0.1:3456", True),
        ("localhost", "http://localhost:3456", True),
        ("0.0.0.0", "http://127.0.0.1:3456", False),
        ("", "http://127.0.0.1:3456", False),
        ("::", "http://[::1]:3456", False),
        ("192.168.1.10", "http://192.168.1.10:3456", False),
    ],
)
def test_base_url_and_loopback(host: str, url: str, loopback_only: bool, tmp_path: Path) -> None:
    settings = Settings(host=host, port=3456, data_dir=tmp_path)
    assert settings.is_loopback_only is loopback_only
    assert settings.base_url == url


def test_ipv6_loopback_base_url_is_a_valid_url(tmp_path: Path) -> None:
    settings = Settings(host="::1", port=3456, data_dir=tmp_path)
    assert settings.is_loopback_only is True
    assert settings.base_url == "http://[::1]:3456"


@pytest.mark.parametrize("value", ["inf", "-inf", "nan"])
def test_timeouts_must_be_finite(value: str) -> None:
    with pytest.raises(ConfigError):
        load_settings(
            environ={"CLAUDE_PROXY_IDLE_TIMEOUT_S": value}, config_path=Path("/nonexistent")
        )


def test_an_empty_host_in_the_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text('{"host": ""}')
    with pytest.raises(ConfigError):
        load_settings(environ={}, config_path=path)


def test_listening_beyond_loopback_needs_a_key() -> None:
    from proxy_core.config import Settings, check_exposure

    with pytest.raises(ConfigError, match="CLAUDE_PROXY_API_KEY"):
        check_exposure(Settings(host="0.0.0.0"))
    check_exposure(Settings(host="0.0.0.0", api_key="k"))
    check_exposure(Settings(host="127.0.0.1"))


def test_agent_workspace_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="agent_workspace"):
        load_settings(
            environ={"CLAUDE_PROXY_AGENT_WORKSPACE": str(tmp_path / "missing")},
            config_path=tmp_path / "c.json",
        )
    settings = load_settings(
        environ={"CLAUDE_PROXY_AGENT_WORKSPACE": str(tmp_path)}, config_path=tmp_path / "c.json"
    )
    assert settings.agent_workspace == tmp_path


def test_agent_mode_on_the_network_without_a_key_is_refused(tmp_path: Path) -> None:
    from proxy_core.config import Settings, check_exposure

    with pytest.raises(ConfigError, match="this machine"):
        check_exposure(Settings(host="0.0.0.0", agent_workspace=tmp_path))

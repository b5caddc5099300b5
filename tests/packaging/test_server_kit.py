"""The server kit: the Docker healthcheck run for real, the files agreeing with each other
and with the server's own rules, and the systemd unit as systemd reads it.

Docker itself cannot run here (no daemon, no registry for the base image), so the
image is not built in tests; README says how it was checked.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from proxy_core.config import DEFAULT_PORT, ConfigError, check_exposure, load_settings
from proxy_core.server import ProxyServer
from tests.api.test_entrypoint import free_port

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
SERVICE = COMPOSE["services"]["claude-sdk-proxy"]


def dockerfile_instructions(name: str) -> list[str]:
    """The arguments of every ``name`` instruction, continuation lines joined."""
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    return [line[len(name) :].strip() for line in joined.splitlines() if line.startswith(name)]


def dockerfile_env() -> dict[str, str]:
    return dict(
        pair.split("=", 1) for env in dockerfile_instructions("ENV ") for pair in env.split()
    )


def healthcheck_code() -> str:
    (healthcheck,) = dockerfile_instructions("HEALTHCHECK ")
    command = shlex.split(healthcheck.split(" CMD ", 1)[1])
    assert command[:2] == ["python", "-c"]
    return command[2]


def run_healthcheck(port: int) -> int:
    env = {"CLAUDE_PROXY_PORT": str(port)}
    return subprocess.run(
        [sys.executable, "-c", healthcheck_code()], env=env, timeout=30
    ).returncode


def test_the_docker_healthcheck_passes_on_a_serving_proxy_and_fails_without_one(
    proxy: ProxyServer,
) -> None:
    port = urlsplit(proxy.base_url).port
    assert port is not None
    assert run_healthcheck(port) == 0
    assert run_healthcheck(free_port()) != 0


def test_the_container_listens_where_compose_publishes_and_needs_the_key_compose_demands(
    tmp_path: Path,
) -> None:
    image_env = dockerfile_env()
    assert dockerfile_instructions("EXPOSE ") == [image_env["CLAUDE_PROXY_PORT"]]
    assert int(image_env["CLAUDE_PROXY_PORT"]) == DEFAULT_PORT
    (published,) = SERVICE["ports"]
    assert published.startswith("127.0.0.1:") and published.endswith(f":{DEFAULT_PORT}")

    no_config = tmp_path / "none.json"
    without_key = load_settings(environ=image_env, config_path=no_config)
    with pytest.raises(ConfigError, match="CLAUDE_PROXY_API_KEY"):
        check_exposure(without_key)
    # Compose refuses to start without the key (`${VAR:?message}`), and with it the server runs.
    assert SERVICE["environment"]["CLAUDE_PROXY_API_KEY"].startswith("${CLAUDE_PROXY_API_KEY:?")
    with_key = {**image_env, "CLAUDE_PROXY_API_KEY": "k" * 32}
    check_exposure(load_settings(environ=with_key, config_path=no_config))


def test_compose_mounts_the_login_read_only_into_the_image_users_home() -> None:
    (user,) = dockerfile_instructions("USER ")
    assert user not in ("root", "0")
    (workdir,) = [w for w in dockerfile_instructions("WORKDIR ") if w.startswith("/home/")]
    assert workdir == f"/home/{user}"
    assert f"{workdir}/.claude:ro" in [volume.split(":", 1)[1] for volume in SERVICE["volumes"]]


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed"
)
def test_systemd_reads_the_unit_without_a_complaint(tmp_path: Path) -> None:
    executable = tmp_path / "claude-sdk-proxy"
    executable.write_text("#!/bin/sh\n")
    executable.chmod(0o755)
    unit = (ROOT / "packaging" / "systemd" / "claude-sdk-proxy.service").read_text()
    # Verification checks that the command exists; point it at a stand-in.
    (tmp_path / "claude-sdk-proxy.service").write_text(
        unit.replace("ExecStart=%h/.local/bin/claude-sdk-proxy", f"ExecStart={executable}")
    )
    result = subprocess.run(
        ["systemd-analyze", "verify", str(tmp_path / "claude-sdk-proxy.service")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stderr) == (0, "")


def test_the_github_workflow_runs_what_exists_here() -> None:
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
    jobs = workflow["jobs"]
    assert set(jobs) == {"linux", "desktop"}
    assert set(jobs["desktop"]["strategy"]["matrix"]["os"]) == {"macos-14", "windows-2022"}
    commands = [step["run"] for job in jobs.values() for step in job["steps"] if "run" in step]
    assert any(".ci/run" in command for command in commands)
    for path in ("tests/unit", "tests/api", "packaging/build.py", ".ci/run"):
        assert (ROOT / path).exists(), path
        assert any(path in command for command in commands), path

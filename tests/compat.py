"""The README's compatibility table, written from the client tests' own results.

A test that runs a real client says what it proves with ``@pytest.mark.compat(client,
*features)``. After a run in which every such test ran (none skipped or deselected), the
table is rendered from the outcomes and the installed clients' versions, and compared with
the one in README.md: if they differ, the README is rewritten, and the run fails when more
than a version changed (a client or a feature added or dropped), so the committed table says
what was tested. A run with a failure leaves it alone: that test fails the run already.
"""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
NODE_MODULES = ROOT / "tests" / "clients" / "node_modules"
START, END = "<!-- compatibility:start -->", "<!-- compatibility:end -->"
FEATURES = ("plain", "streamed", "tools", "images")
_outcomes: dict[str, str] = {}
_claims: dict[str, tuple[str, tuple[str, ...]]] = {}


def python_version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def npm_version(package: str) -> str:
    manifest = NODE_MODULES / package / "package.json"
    return json.loads(manifest.read_text())["version"] if manifest.exists() else "not installed"


def chromium_version() -> str:
    try:
        done = subprocess.run(["chromium", "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "not installed"
    return done.stdout.split()[1] if done.stdout.split()[1:] else "unknown"


def claude_version() -> str:
    from claude_agent_sdk._cli_version import __cli_version__

    return str(__cli_version__)


CLIENT_VERSIONS = {
    "Anthropic SDK (Python)": lambda: python_version("anthropic"),
    "OpenAI SDK (Python), chat completions": lambda: python_version("openai"),
    "OpenAI SDK (Python), Responses API": lambda: python_version("openai"),
    "OpenAI Agents SDK (Python)": lambda: python_version("openai-agents"),
    "LangChain ChatOpenAI": lambda: python_version("langchain-openai"),
    "LangChain ChatAnthropic": lambda: python_version("langchain-anthropic"),
    "LiteLLM Router": lambda: python_version("litellm"),
    "Anthropic and OpenAI SDKs (node)": lambda: (
        f"{npm_version('@anthropic-ai/sdk')} / {npm_version('openai')}"
    ),
    "AI SDK, OpenAI provider (node)": lambda: npm_version("@ai-sdk/openai"),
    "Codex CLI (node)": lambda: npm_version("@openai/codex"),
    "Claude Code CLI": claude_version,
    "Chromium, fetch from a web page": chromium_version,
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "compat(client, *features): a real-client test the compatibility table counts"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        marker = item.get_closest_marker("compat")
        if marker is not None:
            client, *features = marker.args
            assert client in CLIENT_VERSIONS, f"{item.nodeid}: unknown client {client!r}"
            assert set(features) <= set(FEATURES), f"{item.nodeid}: unknown feature"
            _claims[item.nodeid] = (client, tuple(features))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.nodeid not in _claims:
        return
    if report.skipped:
        _outcomes[report.nodeid] = "skipped"
    elif report.failed:
        _outcomes[report.nodeid] = "failed"
    elif report.when == "call":
        _outcomes.setdefault(report.nodeid, "passed")


def render_table(claims: dict[str, tuple[str, tuple[str, ...]]], outcomes: dict[str, str]) -> str:
    cells: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for nodeid, (client, features) in claims.items():
        for feature in features:
            cells[client][feature].append(outcomes.get(nodeid, "skipped"))
    lines = [
        "| Client | Version | " + " | ".join(f.capitalize() for f in FEATURES) + " |",
        "|---|---|" + "---|" * len(FEATURES),
    ]
    for client, version_of in CLIENT_VERSIONS.items():
        row = []
        for feature in FEATURES:
            results = cells[client][feature]
            row.append("-" if not results else "pass" if set(results) == {"passed"} else "FAIL")
        lines.append(f"| {client} | {version_of()} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def _results_only(table: str) -> list[list[str]]:
    """The table without its version column."""
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in table.splitlines()]
    return [row[:1] + row[2:] for row in rows]


def _is_full_run(config: pytest.Config) -> bool:
    """The whole suite, as scripts/test runs it: no paths, -k, -m or --lf narrowing it."""
    option = config.option
    return (
        config.args_source is pytest.Config.ArgsSource.TESTPATHS
        and not option.keyword
        and not option.markexpr
        and not getattr(option, "lf", False)
        and not getattr(option, "deselect", None)
    )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if session.testsfailed:
        return  # the run fails anyway; a table of FAILs is nothing to commit
    complete = _claims and len(_outcomes) == len(_claims)
    if not _is_full_run(session.config) or not complete or "skipped" in _outcomes.values():
        return  # not every client test ran: nothing to compare
    table = render_table(_claims, _outcomes)
    text = README.read_text(encoding="utf-8")
    head, found, rest = text.partition(START)
    _, found_end, tail = rest.partition(END)
    if not found or not found_end:
        raise pytest.UsageError(f"README.md lacks the {START} ... {END} markers")
    committed = rest.split(END, 1)[0].strip()
    if committed == table:
        return
    README.write_text(f"{head}{START}\n{table}\n{END}{tail}", encoding="utf-8")
    if _results_only(committed) == _results_only(table):
        return  # only a version moved (a Debian update of Chromium, say): not a failure
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(
            "The compatibility table in README.md changed with these results; it is rewritten. "
            "Commit it.",
            red=True,
        )

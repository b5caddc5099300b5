"""The README's client setup section is exactly what the tray's recipes render."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "client_docs.py"


def test_the_readme_section_is_generated_from_the_recipes() -> None:
    spec = importlib.util.spec_from_file_location("client_docs", SCRIPT)
    assert spec is not None and spec.loader is not None
    client_docs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(client_docs)
    text = client_docs.README.read_text(encoding="utf-8")
    expected = client_docs.with_section(text, client_docs.client_setup_section())
    assert text == expected, "README.md is stale: run .venv/bin/python scripts/client_docs.py"

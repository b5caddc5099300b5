"""Write the README's client setup section from proxy_core.client_setup's recipes.

Run: ``.venv/bin/python scripts/client_docs.py`` (``--check`` only says whether it is current).
The tray copies the same recipes, and tests/unit/test_client_docs.py fails when the README
has drifted from them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from proxy_core.client_setup import RECIPES

README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- client-setup:start -->", "<!-- client-setup:end -->"
BASE_URL = "http://127.0.0.1:3456"


def client_setup_section() -> str:
    parts = []
    for recipe in RECIPES:
        tested = f" Tested: `{recipe.tested}`." if recipe.tested else " Not run here."
        parts.append(f"**{recipe.client}**, in {recipe.where}.{tested}")
        parts.append(f"```{recipe.language}\n{recipe.render(BASE_URL, None)}```")
        if recipe.note:
            parts.append(recipe.note)
    return "\n\n".join(parts)


def with_section(text: str, section: str) -> str:
    head, found, rest = text.partition(START)
    _, found_end, tail = rest.partition(END)
    if not found or not found_end:
        raise SystemExit(f"README.md lacks the {START} ... {END} markers")
    return f"{head}{START}\n{section}\n{END}{tail}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the README is stale")
    args = parser.parse_args()
    text = README.read_text(encoding="utf-8")
    updated = with_section(text, client_setup_section())
    if args.check:
        return 0 if updated == text else 1
    README.write_text(updated, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

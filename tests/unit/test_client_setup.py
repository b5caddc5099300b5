"""Every client recipe is a block that works pasted as it is, in the language it claims."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from proxy_core.client_setup import RECIPES, Recipe, recipe

BASE, KEY = "http://127.0.0.1:3456", "sk-local-test"


@pytest.mark.parametrize("chosen", RECIPES, ids=[r.id for r in RECIPES])
def test_each_recipe_parses_in_its_language(chosen: Recipe, tmp_path: Path) -> None:
    block = chosen.render(BASE, KEY)
    assert BASE in block or "<your-host>" in block
    assert KEY in block or chosen.id in ("codex", "zed")  # those two take the key elsewhere
    if chosen.language == "bash":
        subprocess.run(["bash", "-n"], input=block, text=True, check=True)
    elif chosen.language == "python":
        ast.parse(block)
    elif chosen.language == "toml":
        parsed = tomllib.loads(block)
        assert parsed["model_providers"]["claude-sdk-proxy"]["base_url"] == f"{BASE}/v1"
    elif chosen.language == "yaml":
        assert isinstance(yaml.safe_load(block), list)
    elif chosen.language == "json":
        json.loads("{" + block + "}")  # a member of settings.json's top-level object
    elif chosen.language == "js":
        node = shutil.which("node")
        if node is None:
            pytest.skip("node is not installed")
        script = tmp_path / "recipe.mjs"
        script.write_text(block)
        subprocess.run([node, "--check", str(script)], check=True)
    else:
        assert chosen.language == "text"


def test_recipes_are_found_by_id_and_an_unset_key_reads_unused() -> None:
    assert recipe("codex").client == "Codex CLI"
    assert "ANTHROPIC_API_KEY=unused" in recipe("claude-code").render(BASE, None)
    assert len({r.id for r in RECIPES}) == len(RECIPES)
    with pytest.raises(KeyError):
        recipe("nope")

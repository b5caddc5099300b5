"""resolve_model and find_model: aliases, the catalog, retired ids and refusals."""

from __future__ import annotations

import pytest

from proxy_core.anthropic_api.models import (
    CATALOG,
    CATALOG_IDS,
    FAMILIES,
    NEWEST_IN_FAMILY,
    ModelInfo,
    family_of,
    find_model,
    resolve_model,
)
from proxy_core.errors import NotFoundError


@pytest.mark.parametrize(
    ("requested", "expected"),
    [
        ("opus", "opus"),
        ("sonnet", "sonnet"),
        ("haiku", "haiku"),
        ("Sonnet", "sonnet"),
        ("OPUS", "opus"),
        ("  haiku  ", "haiku"),
    ],
)
def test_aliases_go_to_the_cli_unchanged(requested: str, expected: str) -> None:
    assert resolve_model(requested) == expected


@pytest.mark.parametrize("model_id", sorted(CATALOG_IDS))
def test_catalog_ids_pass_through_unchanged(model_id: str) -> None:
    assert resolve_model(model_id) == model_id


def test_catalog_id_surrounded_by_whitespace_is_trimmed() -> None:
    assert resolve_model(" claude-opus-4-7 ") == "claude-opus-4-7"


@pytest.mark.parametrize(
    ("retired", "newest"),
    [
        ("claude-3-5-sonnet-20241022", "claude-sonnet-5-5"),
        ("claude-3-5-sonnet-latest", "claude-sonnet-5-5"),
        ("claude-3-7-sonnet-20250219", "claude-sonnet-5-5"),
        ("claude-3.5-sonnet", "claude-sonnet-5-5"),
        ("claude-3-opus-20240229", "claude-opus-5-5"),
        ("claude-3-haiku-20240307", "claude-haiku-5-5"),
        ("claude-3-5-haiku-20241022", "claude-haiku-5-5"),
        ("claude-opus-4-1-20250805", "claude-opus-5-5"),
        ("claude-opus-4-20250514", "claude-opus-5-5"),
        ("claude-opus-4-0", "claude-opus-5-5"),
        ("claude-opus-4-1", "claude-opus-5-5"),
        ("claude-opus-4", "claude-opus-5-5"),
        ("claude-sonnet-4-20250514", "claude-sonnet-5-5"),
        ("claude-sonnet-4-0", "claude-sonnet-5-5"),
        ("claude-sonnet-4", "claude-sonnet-5-5"),
        ("Claude-3-5-Sonnet-20241022", "claude-sonnet-5-5"),
        # No family in the name: the default family is sonnet.
        ("claude-instant-1.2", "claude-sonnet-5-5"),
    ],
)
def test_retired_ids_map_to_the_newest_model_of_their_family(retired: str, newest: str) -> None:
    assert resolve_model(retired) == newest


def test_newest_in_family_is_in_the_catalog() -> None:
    assert set(NEWEST_IN_FAMILY) == set(FAMILIES)
    assert set(NEWEST_IN_FAMILY.values()) <= CATALOG_IDS


@pytest.mark.parametrize("retired", ["claude-2.1", "claude-2.0", "claude-2", "claude-1.3"])
def test_claude_1_and_2_ids_are_treated_as_retired(retired: str) -> None:
    assert resolve_model(retired) == NEWEST_IN_FAMILY["sonnet"]


@pytest.mark.parametrize(
    "model_id",
    [
        "claude-sonnet-4-5",
        "claude-haiku-4-5",
        "claude-opus-4-5",
        "claude-opus-6",
        "claude-sonnet-9-9-20300101",
        "claude-experimental",
    ],
)
def test_unknown_claude_ids_pass_through(model_id: str) -> None:
    assert resolve_model(model_id) == model_id


@pytest.mark.parametrize(
    ("requested", "family"),
    [
        ("anthropic/claude-sonnet", "sonnet"),
        ("sonnet-latest", "sonnet"),
        ("opus-preview", "opus"),
        ("my-haiku", "haiku"),
    ],
)
def test_non_claude_names_mentioning_a_family_map_to_the_alias(requested: str, family: str) -> None:
    assert resolve_model(requested) == family


@pytest.mark.parametrize("requested", ["gpt-4o", "gemini-2.5-pro", "llama3", "o3"])
def test_non_claude_models_are_refused_with_the_list(requested: str) -> None:
    with pytest.raises(NotFoundError) as info:
        resolve_model(requested)
    error = info.value
    assert error.param == "model"
    assert error.status == 404
    assert repr(requested) in error.message
    assert "is not a Claude model" in error.message
    for name in (*FAMILIES, *CATALOG_IDS):
        assert name in error.message


@pytest.mark.parametrize(
    ("name", "family"),
    [
        ("claude-opus-4-7", "opus"),
        ("SONNET", "sonnet"),
        ("x-haiku-y", "haiku"),
        ("gpt-4o", None),
        ("claude-instant-1", None),
    ],
)
def test_family_of(name: str, family: str | None) -> None:
    assert family_of(name) == family


@pytest.mark.parametrize("info", CATALOG, ids=lambda model: model.id)
def test_find_model_returns_catalog_entries(info: ModelInfo) -> None:
    assert find_model(info.id) is info


@pytest.mark.parametrize("alias", ["opus", "sonnet", "haiku", "Haiku"])
def test_find_model_resolves_aliases_to_the_newest(alias: str) -> None:
    model = find_model(alias)
    assert model.id == NEWEST_IN_FAMILY[alias.lower()]


@pytest.mark.parametrize(
    ("model_id", "found"),
    [
        # Ids /v1/messages accepts resolve here too: a dated model's short id, a retired one.
        ("claude-haiku-4-5", "claude-haiku-4-5-20251001"),
        ("claude-sonnet-4-5", "claude-sonnet-4-5-20250929"),
        ("claude-3-5-sonnet-20241022", "claude-sonnet-5-5"),
        ("claude-opus-4-1", "claude-opus-5-5"),
    ],
)
def test_find_model_resolves_what_messages_accept(model_id: str, found: str) -> None:
    assert find_model(model_id).id == found


@pytest.mark.parametrize("model_id", ["gpt-4o", "claude-opus-6", "claude-haiku-4"])
def test_find_model_refuses_unknown_ids(model_id: str) -> None:
    with pytest.raises(NotFoundError) as info:
        find_model(model_id)
    assert info.value.param == "model"
    assert repr(model_id) in info.value.message


def test_catalog_is_newest_first_and_ids_are_unique() -> None:
    dates = [model.created_at for model in CATALOG]
    assert len(CATALOG_IDS) == len(CATALOG)
    assert CATALOG[0].id == "claude-opus-5-5"
    assert max(dates) == dates[0]

"""The models a caller can name, and how a requested name reaches the CLI.

Aliases (``opus``, ``sonnet``, ``haiku``) go to the CLI as they are: it maps
them to the newest model of the family. Retired ids are mapped to the current
model of their family here, so old client configurations keep working. Other
``claude-*`` ids pass through (the upstream is the judge of what exists);
names that are not Claude models at all are refused with the list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from proxy_core.errors import NotFoundError

FAMILIES = ("opus", "sonnet", "haiku")


@dataclass(frozen=True)
class ModelInfo:
    id: str
    display_name: str
    created_at: str


# Newest first, as Anthropic's list is ordered.
CATALOG: tuple[ModelInfo, ...] = (
    ModelInfo("claude-opus-5-5", "Claude Opus 5.5", "2026-09-01T00:00:00Z"),
    ModelInfo("claude-sonnet-5-5", "Claude Sonnet 5.5", "2026-09-01T00:00:00Z"),
    ModelInfo("claude-haiku-5-5", "Claude Haiku 5.5", "2026-09-01T00:00:00Z"),
    ModelInfo("claude-opus-5", "Claude Opus 5", "2026-05-01T00:00:00Z"),
    ModelInfo("claude-sonnet-5", "Claude Sonnet 5", "2026-05-01T00:00:00Z"),
    ModelInfo("claude-opus-4-8", "Claude Opus 4.8", "2026-03-01T00:00:00Z"),
    ModelInfo("claude-opus-4-7", "Claude Opus 4.7", "2026-01-15T00:00:00Z"),
    ModelInfo("claude-opus-4-6", "Claude Opus 4.6", "2025-12-01T00:00:00Z"),
    ModelInfo("claude-sonnet-4-6", "Claude Sonnet 4.6", "2025-12-01T00:00:00Z"),
    ModelInfo("claude-opus-4-5-20251101", "Claude Opus 4.5", "2025-11-01T00:00:00Z"),
    ModelInfo("claude-sonnet-4-5-20250929", "Claude Sonnet 4.5", "2025-09-29T00:00:00Z"),
    ModelInfo("claude-haiku-4-5-20251001", "Claude Haiku 4.5", "2025-10-01T00:00:00Z"),
)
CATALOG_IDS = frozenset(model.id for model in CATALOG)
NEWEST_IN_FAMILY = {family: f"claude-{family}-5-5" for family in FAMILIES}

# Retired models: Claude 1-3.x and the first Claude 4 releases.
_RETIRED = re.compile(
    r"^claude-(instant|[12](\.\d)?(-|$)|3-|3\.5|opus-4-(0|1|2025)|sonnet-4-(0|2025)|opus-4$|sonnet-4$)"
)


def family_of(model: str) -> str | None:
    lowered = model.lower()
    for family in FAMILIES:
        if family in lowered:
            return family
    return None


def resolve_model(requested: str) -> str:
    """The model name to give the CLI for what the caller asked for."""
    name = requested.strip()
    lowered = name.lower()
    if lowered in FAMILIES or name in CATALOG_IDS:
        return lowered if lowered in FAMILIES else name
    family = family_of(lowered)
    if lowered.startswith("claude-") and _RETIRED.match(lowered):
        return NEWEST_IN_FAMILY.get(family or "sonnet", NEWEST_IN_FAMILY["sonnet"])
    if lowered.startswith("claude-"):
        return name
    if family is not None:
        # "anthropic/claude-sonnet", "sonnet-latest" and the like: the seed mapped by family.
        return family
    raise NotFoundError(
        f"model: {requested!r} is not a Claude model. Use one of: "
        f"{', '.join((*FAMILIES, *sorted(CATALOG_IDS)))}",
        param="model",
    )


def display_model(model: str) -> str:
    """The model id to show before the upstream has named it: aliases become full ids."""
    return NEWEST_IN_FAMILY.get(model, model)


def find_model(model_id: str) -> ModelInfo:
    for model in CATALOG:
        if model.id == model_id:
            return model
    alias = model_id.lower()
    # A dated model's short id ("claude-haiku-4-5"), as /v1/messages accepts it.
    dated = [model for model in CATALOG if model.id.startswith(f"{alias}-20")]
    if dated:
        return dated[0]
    if alias in FAMILIES or (alias.startswith("claude-") and _RETIRED.match(alias)):
        newest = NEWEST_IN_FAMILY[family_of(alias) or "sonnet"]
        return next(model for model in CATALOG if model.id == newest)
    raise NotFoundError(f"model: {model_id!r} not found", param="model")

"""The tray's pure parts: status line, menu model, icons. No display needed."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from proxy_core.client_setup import RECIPES
from tray_app.icons import (
    API_KEY_BLUE,
    PHASE_COLOURS,
    TILE,
    badge_box,
    badge_of,
    bracket_lines,
    bracket_stroke,
    icon_image,
    write_assets,
)
from tray_app.menu import SEPARATOR, Item, build_menu
from tray_app.state import Phase, TrayState

URL = "http://127.0.0.1:3456"
RUNNING = TrayState(phase=Phase.RUNNING, base_url=URL, logged_in=True)


def pixels(image: Image.Image) -> list[tuple[int, ...]]:
    width, height = image.size
    return [image.getpixel((x, y)) for x in range(width) for y in range(height)]  # type: ignore[misc]


def by_text(items: tuple[Item, ...], prefix: str) -> Item:
    return next(item for item in items if item.text.startswith(prefix))


@pytest.mark.parametrize(
    ("state", "line"),
    [
        (RUNNING, f"Running on {URL}"),
        (replace(RUNNING, phase=Phase.STOPPED), "Stopped"),
        (replace(RUNNING, phase=Phase.STARTING), "Starting…"),
        (
            replace(RUNNING, phase=Phase.ERROR, error="port 3456 is already in use"),
            "Error: port 3456 is already in use",
        ),
        (replace(RUNNING, logged_in=False), "Not logged in to Claude"),
        (
            replace(RUNNING, cli_found=False, logged_in=False),
            "Claude Code CLI not found: install it, or set its path",
        ),
        (replace(RUNNING, auth_mode="API key"), f"Running on {URL}, billing an API key"),
        (
            replace(RUNNING, network_bound=True, network_urls=("http://192.168.1.5:3456",)),
            f"Running on http://192.168.1.5:3456 (network) and {URL}",
        ),
        (
            replace(RUNNING, billing_warning="Third-party apps now draw from your extra usage"),
            "Billing warning: requests refused as extra usage",
        ),
    ],
)
def test_the_status_line_says_what_matters_most(state: TrayState, line: str) -> None:
    menu = build_menu(state)
    assert menu[0].text == line and menu[0].enabled is False and menu[0].action is None


@pytest.mark.parametrize(
    "state",
    [
        replace(RUNNING, logged_in=False),
        replace(RUNNING, cli_found=False),
        replace(RUNNING, billing_warning="extra usage"),
    ],
)
def test_every_state_that_cannot_serve_needs_attention(state: TrayState) -> None:
    assert state.needs_attention and not RUNNING.needs_attention


def test_running_and_stopped_enable_the_right_actions() -> None:
    running = build_menu(RUNNING)
    assert not by_text(running, "Start").enabled and by_text(running, "Stop").enabled
    assert by_text(running, "Copy base URL").enabled and by_text(running, "Test connection").enabled
    stopped = build_menu(replace(RUNNING, phase=Phase.STOPPED))
    assert by_text(stopped, "Start").enabled and not by_text(stopped, "Stop").enabled
    assert not by_text(stopped, "Copy base URL").enabled
    errored = build_menu(replace(RUNNING, phase=Phase.ERROR, error="boom"))
    assert by_text(errored, "Start").enabled


def test_the_network_needs_a_key_and_can_always_be_left() -> None:
    no_key = build_menu(RUNNING)
    assert not by_text(no_key, "Bind to network").enabled
    assert not by_text(no_key, "Copy API key").enabled
    keyed = build_menu(replace(RUNNING, api_key_set=True))
    assert by_text(keyed, "Bind to network").enabled
    exposed = build_menu(replace(RUNNING, api_key_set=True, network_bound=True))
    assert by_text(exposed, "Bind to network").checked is True
    # Without its key (CLAUDE_PROXY_API_KEY unset meanwhile) the way back stays open.
    keyless = build_menu(replace(RUNNING, network_bound=True))
    assert by_text(keyless, "Bind to network").enabled


def test_every_action_is_named_and_checks_reflect_the_state() -> None:
    menu = build_menu(replace(RUNNING, start_at_login=True))
    assert by_text(menu, "Start at login").checked is True
    assert by_text(menu, "Settings…").enabled
    assert by_text(build_menu(replace(RUNNING, phase=Phase.ERROR)), "Settings…").enabled
    assert not by_text(build_menu(replace(RUNNING, phase=Phase.STARTING)), "Settings…").enabled
    assert by_text(menu, "About").text == "About (auth: subscription)"
    assert by_text(menu, "Log in to Claude").enabled is False
    actions = [i.action for i in menu if i is not SEPARATOR and i.action] + [
        c.action for i in menu for c in i.children
    ]
    assert len(actions) == len(set(actions))
    assert {"start", "stop", "quit", "copy_base_url", "view_logs"} <= set(actions)
    setups = by_text(menu, "Copy client setup").children
    assert [item.action for item in setups] == [f"copy_client_setup:{r.id}" for r in RECIPES]
    assert all(item.enabled for item in setups)
    stopped = by_text(build_menu(replace(RUNNING, phase=Phase.STOPPED)), "Copy client setup")
    assert not any(item.enabled for item in stopped.children)
    assert menu[-1].action == "quit"


@pytest.mark.parametrize("phase", list(Phase))
@pytest.mark.parametrize("size", [16, 32, 64])
def test_each_phase_has_its_own_dot_colour(phase: Phase, size: int) -> None:
    image = icon_image(phase, size=size)
    assert image.size == (size, size) and image.mode == "RGBA"
    colours = {pixel[:3] for pixel in pixels(image) if pixel[3] == 255}
    assert PHASE_COLOURS[phase] in colours
    others = {c for p, c in PHASE_COLOURS.items() if p is not phase}
    assert not colours & others
    assert image.getpixel((0, 0))[3] == 0, "the corners are transparent"


def test_attention_turns_the_dot_red() -> None:
    image = icon_image(Phase.RUNNING, attention=True, size=32)
    colours = {pixel[:3] for pixel in pixels(image) if pixel[3] == 255}
    assert PHASE_COLOURS[Phase.ERROR] in colours and PHASE_COLOURS[Phase.RUNNING] not in colours


def test_assets_are_written_in_every_platform_format(tmp_path: Path) -> None:
    written = write_assets(tmp_path)
    names = {path.name for path in written}
    for phase in Phase:
        assert {
            f"icon-{phase.value}.ico",
            f"icon-{phase.value}.icns",
            f"icon-{phase.value}-16.png",
        } <= names
    assert (tmp_path / "icon-running.ico").read_bytes()[:4] == b"\x00\x00\x01\x00"
    assert (tmp_path / "icon-running.icns").read_bytes()[:4] == b"icns"


def test_the_committed_assets_match_the_drawing_code(tmp_path: Path) -> None:
    committed = Path(__file__).resolve().parents[2] / "assets"
    write_assets(tmp_path)
    for png in tmp_path.glob("*.png"):
        # Pixels, not bytes: another zlib may compress the same picture differently.
        with Image.open(png) as fresh, Image.open(committed / png.name) as kept:
            assert fresh.tobytes() == kept.tobytes(), "regenerate: python -m tray_app.icons"


def colours_of(image: Image.Image) -> set[tuple[int, ...]]:
    return {pixel[:3] for pixel in pixels(image) if pixel[3] == 255}


def test_the_windows_show_under_the_status_line() -> None:
    words = "5 h 42% · resets 14:10 · 7 d 13%"
    menu = build_menu(replace(RUNNING, quota_words=words, quota_used=0.42))
    assert menu[0].text == f"Running on {URL}"
    assert menu[1].text == words and menu[1].enabled is False and menu[1].action is None
    assert build_menu(RUNNING)[1] is SEPARATOR, "no line before the upstream has reported"


def test_a_window_nearly_used_up_turns_the_icon_amber_and_a_used_up_one_red() -> None:
    nearly = replace(RUNNING, quota_used=0.8)
    assert nearly.quota_warning and not nearly.needs_attention
    amber = icon_image(Phase.RUNNING, attention=False, warning=True, size=22)
    assert PHASE_COLOURS[Phase.STARTING] in colours_of(amber)
    assert PHASE_COLOURS[Phase.RUNNING] not in colours_of(amber)
    used_up = replace(RUNNING, quota_used=1.0)
    assert used_up.needs_attention
    assert used_up.status_line() == "A subscription limit is used up: see the dashboard"
    assert not replace(RUNNING, quota_used=0.79).quota_warning


def test_the_dashboard_is_one_click_away_while_running() -> None:
    assert by_text(build_menu(RUNNING), "Open dashboard").action == "open_dashboard"
    stopped = build_menu(replace(RUNNING, phase=Phase.STOPPED))
    assert not by_text(stopped, "Open dashboard").enabled


BADGE_CASES = {
    "running": {"phase": Phase.RUNNING},
    "starting": {"phase": Phase.STARTING},
    "stopped": {"phase": Phase.STOPPED},
    "error": {"phase": Phase.ERROR},
    "attention": {"phase": Phase.RUNNING, "attention": True},
    "warning": {"phase": Phase.RUNNING, "warning": True},
    "api_key": {"phase": Phase.RUNNING, "api_key": True},
}


def badge_shape(image: Image.Image) -> tuple[int, ...]:
    """The badge's corner as light, dark and coloured pixels: its shape, whatever its hue
    (what a person who cannot tell red from green still sees)."""
    size = image.width
    corner = round(size * 34 / 64)

    def kind(x: int, y: int) -> int:
        red, green, blue, alpha = image.getpixel((x, y))  # type: ignore[misc]
        if alpha < 128 or (red, green, blue) == TILE:
            return 0
        return 1 if min(red, green, blue) > 200 else 2

    return tuple(kind(x, y) for x in range(corner, size) for y in range(corner, size))


@pytest.mark.parametrize("size", [16, 22, 32])
def test_every_state_has_its_own_badge_shape_not_only_its_own_colour(size: int) -> None:
    shapes = {name: badge_shape(icon_image(size=size, **kw)) for name, kw in BADGE_CASES.items()}
    assert len(set(shapes.values())) == len(shapes), "two states share a badge shape"


def test_the_badges_say_what_matters_most() -> None:
    assert badge_of(Phase.ERROR, attention=True) == "error"
    assert badge_of(Phase.RUNNING, attention=True, warning=True) == "attention"
    assert badge_of(Phase.RUNNING, warning=True, api_key=True) == "warning"
    assert badge_of(Phase.RUNNING, api_key=True) == "api_key"
    blue = icon_image(Phase.RUNNING, api_key=True, size=22)
    assert API_KEY_BLUE in colours_of(blue) and PHASE_COLOURS[Phase.RUNNING] not in colours_of(blue)


LIGHT_PANEL = (240, 240, 240)
DARK_PANEL = (32, 32, 36)


@pytest.mark.parametrize("size", [16, 22, 24, 32])
def test_the_badge_never_cuts_into_the_brackets(size: int) -> None:
    stroke = bracket_stroke(size)
    left, top, _, _ = badge_box(size)
    for line in bracket_lines(size):
        # The stroke's reach past each point, plus a pixel that parts them.
        assert all(x + stroke / 2 + 1 <= left or y + stroke / 2 + 1 <= top for x, y in line)
        assert max(x for x, _ in line) + stroke / 2 <= size and min(y for _, y in line) >= 0


def on_panel(image: Image.Image, panel: tuple[int, int, int]) -> Image.Image:
    backdrop = Image.new("RGBA", image.size, (*panel, 255))
    backdrop.alpha_composite(image)
    return backdrop.convert("RGB")


def distance(pixel: object, colour: tuple[int, int, int]) -> int:
    assert isinstance(pixel, tuple)
    return sum(abs(int(a) - b) for a, b in zip(pixel, colour, strict=True))


def test_every_state_reads_on_light_and_dark_panels() -> None:
    """Each state at 16, 22 and 24 px on both panels, asserted and kept as one sheet in the
    test artefacts for people to look at."""
    from tests.browser_pages import ARTEFACTS

    sizes, cell = (16, 22, 24), 28
    sheet = Image.new("RGB", (cell * len(BADGE_CASES), cell * len(sizes) * 2))
    rows = [(panel, size) for panel in (LIGHT_PANEL, DARK_PANEL) for size in sizes]
    for row, (panel, size) in enumerate(rows):
        for column, (name, case) in enumerate(BADGE_CASES.items()):
            shown = on_panel(icon_image(size=size, **case), panel)
            # The icon stands out of the panel as a whole tile: on a light one by its dark
            # fill, on a dark one by its white outline (the fill is near a dark panel's colour).
            apart = [
                (x, y)
                for x in range(size)
                for y in range(size)
                if distance(shown.getpixel((x, y)), panel) > 90
            ]
            width = max(x for x, _ in apart) - min(x for x, _ in apart) + 1
            height = max(y for _, y in apart) - min(y for _, y in apart) + 1
            assert min(width, height) >= size - 2, f"{name} at {size} px melts into the panel"
            # ...and its badge corner is coloured, not the tile's or the panel's.
            corner = shown.getpixel((size - 1 - size // 8, size - 1 - size // 8))
            assert corner not in (panel, TILE), f"{name} at {size} px shows no badge"
            framed = Image.new("RGB", (cell, cell), panel)
            framed.paste(shown, ((cell - size) // 2, (cell - size) // 2))
            sheet.paste(framed, (column * cell, row * cell))
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    enlarged = sheet.resize((sheet.width * 4, sheet.height * 4), Image.Resampling.NEAREST)
    enlarged.save(ARTEFACTS / "tray-icons-light-and-dark.png")

"""Tray icons drawn from code, one per phase, legible at 16-32 px on light and dark panels.

A dark rounded tile with a white outline reads on both panel colours; the state
is the badge in its corner, told by its shape as well as its colour (for people
who do not tell red from green, and at 16 px where colours blur): a green dot
running, an amber ring starting, a grey dot with a bar stopped, a red dot with a
cross on error, a red dot with "!" when the user must act (log in, install the
CLI, a billing refusal, a limit used up), an amber triangle when a subscription
window is 80 % used, a blue square when requests bill an API key.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

from tray_app.state import Phase

PHASE_COLOURS = {
    Phase.RUNNING: (46, 160, 67),
    Phase.STARTING: (230, 160, 20),
    Phase.STOPPED: (140, 140, 140),
    Phase.ERROR: (210, 50, 45),
}
TILE = (40, 36, 52)
OUTLINE = (255, 255, 255)
ATTENTION = PHASE_COLOURS[Phase.ERROR]
WARNING = PHASE_COLOURS[Phase.STARTING]
API_KEY_BLUE = (40, 110, 220)
Point = tuple[float, float]


def badge_of(
    phase: Phase, *, attention: bool = False, warning: bool = False, api_key: bool = False
) -> str:
    """Which badge a state gets; the first that applies wins."""
    if phase is not Phase.RUNNING:
        return str(phase.value)  # "error", "starting", "stopped"
    if attention:
        return "attention"
    if warning:
        return "warning"
    return "api_key" if api_key else "running"


def icon_image(
    phase: Phase,
    *,
    attention: bool = False,
    warning: bool = False,
    api_key: bool = False,
    size: int = 64,
) -> Image.Image:
    """The icon for ``phase``; ``attention``: the user must act (a red "!"), ``warning``: a
    subscription window 80 % used (an amber triangle), ``api_key``: requests bill an API key
    (a blue square)."""
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    unit = size / 64
    draw.rounded_rectangle(
        (2 * unit, 2 * unit, 62 * unit, 62 * unit),
        radius=14 * unit,
        fill=TILE,
        outline=OUTLINE,
        width=max(1, round(3 * unit)),
    )
    for line in bracket_lines(size):
        draw.line(line, fill=OUTLINE, width=bracket_stroke(size), joint="curve")
    box = badge_box(size)
    _draw_badge(draw, badge_of(phase, attention=attention, warning=warning, api_key=api_key), box)
    return image


def bracket_lines(size: int) -> list[list[Point]]:
    """A bracket pair, "an API", which stays readable when scaled down to 16 px, up and left of
    the badge so it never cuts into them; where pixels are few the badge grows and the
    brackets move further."""
    unit = size / 64
    small = size <= 24
    top, middle, low = (9, 23, 37) if small else (12, 28, 44)
    brackets = ((18, 7), (27, 37)) if small else ((24, 12), (34, 46))  # (ends' x, point's x)
    return [
        [(ends * unit, top * unit), (point * unit, middle * unit), (ends * unit, low * unit)]
        for ends, point in brackets
    ]


def bracket_stroke(size: int) -> int:
    """Thinner where pixels are few, so the two brackets keep a gap between them."""
    return max(1, round((5 if size <= 24 else 6) * size / 64))


def badge_box(size: int) -> tuple[float, float, float, float]:
    unit = size / 64
    corner = 34 if size <= 24 else 40  # a bigger badge where pixels are few
    return (corner * unit, corner * unit, 62 * unit, 62 * unit)


def _draw_badge(draw: ImageDraw.ImageDraw, badge: str, box: tuple[float, ...]) -> None:
    left, top, right, bottom = box
    edge = max(1, round((right - left) / 8))  # the tile-coloured rim that parts it from the tile
    # The stroke of a glyph inside it: at least a fifth of the badge where it is a few pixels.
    mark = max(1, round((right - left) / (5 if right - left < 8 else 7)))
    middle_x, middle_y, inset = (left + right) / 2, (top + bottom) / 2, (right - left) * 0.3
    if badge == "warning":
        triangle: list[Point] = [(middle_x, top), (right, bottom), (left, bottom)]
        draw.polygon(triangle, fill=WARNING, outline=TILE, width=edge)
        return
    if badge == "api_key":
        draw.rectangle(box, fill=API_KEY_BLUE, outline=TILE, width=edge)
        return
    colour = {
        "running": PHASE_COLOURS[Phase.RUNNING],
        "starting": PHASE_COLOURS[Phase.STARTING],
        "stopped": PHASE_COLOURS[Phase.STOPPED],
    }.get(badge, ATTENTION)
    draw.ellipse(box, fill=colour, outline=TILE, width=edge)
    if badge == "starting":  # a ring: hollow, as something not there yet
        hole = (right - left) * 0.28
        draw.ellipse((left + hole, top + hole, right - hole, bottom - hole), fill=TILE)
    elif badge == "stopped":  # a bar, as a pause
        draw.line([(left + inset, middle_y), (right - inset, middle_y)], fill=TILE, width=mark)
    elif badge == "error":  # a cross
        draw.line([(left + inset, top + inset), (right - inset, bottom - inset)], OUTLINE, mark)
        draw.line([(left + inset, bottom - inset), (right - inset, top + inset)], OUTLINE, mark)
    elif badge == "attention":  # an exclamation mark
        draw.line(
            [(middle_x, top + inset * 0.8), (middle_x, middle_y + inset * 0.3)], OUTLINE, mark
        )
        dot = mark * 0.6
        low = bottom - inset * 0.8
        draw.ellipse((middle_x - dot, low - dot, middle_x + dot, low + dot), fill=OUTLINE)


def write_assets(directory: Path) -> list[Path]:
    """Every icon in every format a platform needs: PNG (Linux), ICO (Windows), ICNS (macOS)."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for phase in Phase:
        stem = directory / f"icon-{phase.value}"
        for size in (16, 32, 64, 256):
            path = directory / f"icon-{phase.value}-{size}.png"
            icon_image(phase, size=size).save(path)
            written.append(path)
        big = icon_image(phase, size=256)
        sizes = [(16, 16), (24, 24), (32, 32), (48, 48), (256, 256)]
        big.save(stem.with_suffix(".ico"), sizes=sizes)
        icon_image(phase, size=512).save(stem.with_suffix(".icns"))
        written += [stem.with_suffix(".ico"), stem.with_suffix(".icns")]
    return written


if __name__ == "__main__":
    for written_path in write_assets(Path(__file__).resolve().parent.parent / "assets"):
        print(written_path)

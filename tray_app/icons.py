"""Tray icons drawn from code, one per phase, legible at 16-32 px on light and dark panels.

A dark rounded tile with a white outline reads on both panel colours; the phase
is the colour of the dot in its corner: green running, amber starting or with
a subscription window 80 % used, grey stopped, red on error or when something
needs the user's attention.
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


def icon_image(
    phase: Phase, *, attention: bool = False, warning: bool = False, size: int = 64
) -> Image.Image:
    """The icon for ``phase``; ``attention`` turns the dot red (login needed, billing warning,
    a limit used up), ``warning`` amber (a subscription window 80 % used)."""
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
    # A bracket pair: "an API", which stays readable when scaled down to 16 px.
    stroke = max(1, round(6 * unit))
    draw.line(
        [(26 * unit, 16 * unit), (16 * unit, 32 * unit), (26 * unit, 48 * unit)],
        fill=OUTLINE,
        width=stroke,
        joint="curve",
    )
    draw.line(
        [(38 * unit, 16 * unit), (48 * unit, 32 * unit), (38 * unit, 48 * unit)],
        fill=OUTLINE,
        width=stroke,
        joint="curve",
    )
    dot = ATTENTION if attention else WARNING if warning else PHASE_COLOURS[phase]
    corner = 34 if size <= 24 else 40  # a bigger dot where pixels are few
    draw.ellipse(
        (corner * unit, corner * unit, 62 * unit, 62 * unit),
        fill=dot,
        outline=TILE,
        width=max(1, round(3 * unit)),
    )
    return image


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

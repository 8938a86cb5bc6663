"""Snapshot SVGs as PNGs to look at, drawn as a terminal shows them.

    python scripts/snapshot_png.py tests/__snapshots__/test_ui_bucket/*.svg   # PNGs beside /tmp/...

Rich writes each run of one style as a <text> element at its own column, its spaces as
no-break spaces, without ``xml:space="preserve"``. librsvg (rsvg-convert) then drops each
element's leading and trailing spaces, so every run that starts with one is drawn a cell to
the left: the status line's `` of 38 events`` after a bold ``38`` reads ``38of 38 events``,
the footer's `` Filter`` touches its key, and table cells shift. Browsers keep the spaces
(the README's pictures are right there). This adds the attribute to a copy and converts it.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path


def convert(svg: Path, out_dir: Path) -> Path:
    text = svg.read_text(encoding="utf-8").replace("<svg ", '<svg xml:space="preserve" ', 1)
    png = out_dir / (svg.stem + ".png")
    with tempfile.NamedTemporaryFile("w", suffix=".svg", encoding="utf-8") as copy:
        copy.write(text)
        copy.flush()
        subprocess.run(["rsvg-convert", "-o", str(png), copy.name], check=True)
    return png


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    out_dir = Path(tempfile.gettempdir()) / "kmstui-snapshots"
    out_dir.mkdir(exist_ok=True)
    for name in argv:
        print(convert(Path(name), out_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

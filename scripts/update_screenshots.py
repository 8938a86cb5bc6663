"""Copy the snapshot-test SVGs the README shows into assets/screenshots/.

The README's pictures are the snapshot tests' own output, so they show what the app
shows; tests/test_readme.py fails when a copy and its snapshot differ. Run this after
reviewing and accepting snapshot changes (pytest --snapshot-update).
"""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SNAPSHOTS = ROOT / "tests" / "__snapshots__" / "test_snapshots"
SCREENSHOTS = ROOT / "assets" / "screenshots"

# README picture -> the snapshot it is
SHOWN = {
    "explorer.svg": "TestMainScreen.test_demo_wide.svg",
    "explorer-80x24.svg": "TestMainScreen.test_demo_80x24.svg",
    "access-denied.svg": "TestFilteredView.test_access_denied_burst.svg",
    "detail.svg": "TestDetailView.test_decrypt_with_encryption_context.svg",
    "trail-warning.svg": "TestTrailWarning.test_excluded_trail_selected.svg",
}


def main() -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for picture, snapshot in SHOWN.items():
        shutil.copyfile(SNAPSHOTS / snapshot, SCREENSHOTS / picture)
        print(f"{picture} <- {snapshot}")


if __name__ == "__main__":
    main()

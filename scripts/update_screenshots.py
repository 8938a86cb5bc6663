"""Copy the snapshot-test SVGs the README shows into assets/screenshots/.

The README's pictures are the snapshot tests' own output, so they show what the app
shows; tests/test_readme.py fails when a copy and its snapshot differ. Run this after
reviewing and accepting snapshot changes (pytest --snapshot-update).
"""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SNAPSHOTS = ROOT / "tests" / "__snapshots__"
SCREENSHOTS = ROOT / "assets" / "screenshots"

# README picture -> the snapshot it is
SHOWN = {
    "explorer.svg": "test_snapshots/TestMainScreen.test_demo_wide.svg",
    "explorer-80x24.svg": "test_snapshots/TestMainScreen.test_demo_80x24.svg",
    "access-denied.svg": "test_snapshots/TestFilteredView.test_access_denied_burst.svg",
    "detail.svg": "test_snapshots/TestDetailView.test_decrypt_with_encryption_context.svg",
    "trail-warning.svg": "test_snapshots/TestTrailWarning.test_excluded_trail_selected.svg",
    "live-load.svg": "test_ui_live/TestLiveLoad.test_progress_while_pages_arrive.svg",
    "timeline.svg": "test_snapshots/TestTimeline.test_timeline_with_a_key_selected.svg",
    "group-by.svg": "test_snapshots/TestGroupBy.test_stolen_session_by_event_and_key.svg",
    "what-is-new.svg": "test_snapshots/TestWhatIsNew.test_what_is_new_view.svg",
    "saved-view.svg": "test_snapshots/TestSavedView.test_view_from_the_config_file.svg",
}


def main() -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for picture, snapshot in SHOWN.items():
        shutil.copyfile(SNAPSHOTS / snapshot, SCREENSHOTS / picture)
        print(f"{picture} <- {snapshot}")


if __name__ == "__main__":
    main()

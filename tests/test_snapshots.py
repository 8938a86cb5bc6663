"""Snapshot tests: what the explorer shows, screen by screen. The README's screenshots are these.

Review every changed SVG (rsvg-convert it to PNG) before running with --snapshot-update.
"""

from __future__ import annotations

import pytest
from textual.widgets import Input

from appkit import DEMO, HOSTILE, make_app, settle, type_text

pytestmark = pytest.mark.slow

WIDE = (120, 36)
SMALL = (80, 24)


async def _ready(pilot) -> None:
    """Loaded, filtered, drawn, and nothing left to blink."""
    await settle(pilot)
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False
    await pilot.pause()


def _steps(*actions):
    """A run_before that settles, then types text or presses keys (tuples) in order."""

    async def run(pilot) -> None:
        await _ready(pilot)
        for action in actions:
            if isinstance(action, tuple):
                await pilot.press(*action)
            else:
                await type_text(pilot, action)
            await _ready(pilot)

    return run


class TestMainScreen:
    def test_demo_wide(self, snap_compare):
        assert snap_compare(make_app(DEMO), terminal_size=WIDE, run_before=_ready)

    def test_demo_80x24(self, snap_compare):
        assert snap_compare(make_app(DEMO), terminal_size=SMALL, run_before=_ready)


class TestFilteredView:
    def test_access_denied_burst(self, snap_compare):
        run = _steps(("slash",), "error:AccessDenied", ("enter",))
        assert snap_compare(make_app(DEMO), terminal_size=WIDE, run_before=run)

    def test_bad_filter_is_shown_inline(self, snap_compare):
        run = _steps(("slash",), "error:AccessDenied principle:vendor")
        assert snap_compare(make_app(DEMO), terminal_size=SMALL, run_before=run)


class TestDetailView:
    def test_decrypt_with_encryption_context(self, snap_compare):
        """The stolen session decrypting a secret: who, from where, under which context."""
        run = _steps(("slash",), "principal:AdminSSO ctx:SecretARN=db-credentials", ("enter", "enter"))
        assert snap_compare(make_app(DEMO), terminal_size=WIDE, run_before=run)

    def test_schedule_key_deletion_80x24(self, snap_compare):
        run = _steps(("slash",), "event:ScheduleKeyDeletion", ("enter", "enter"))
        assert snap_compare(make_app(DEMO), terminal_size=SMALL, run_before=run)


class TestTrailWarning:
    def test_excluded_trail_selected(self, snap_compare):
        """The trail whose KMS logging was switched off, selected: its events, with the
        PutEventSelectors that did it, and the full warning in the status line."""
        run = _steps(("1", "enter"))
        assert snap_compare(make_app(DEMO), terminal_size=WIDE, run_before=run)


class TestHelpScreen:
    def test_help(self, snap_compare):
        run = _steps(("question_mark",))
        assert snap_compare(make_app(DEMO), terminal_size=WIDE, run_before=run)


class TestHostileText:
    def test_list(self, snap_compare):
        assert snap_compare(make_app(HOSTILE), terminal_size=WIDE, run_before=_ready)

    def test_detail(self, snap_compare):
        run = _steps(("down", "enter"))
        assert snap_compare(make_app(HOSTILE), terminal_size=WIDE, run_before=run)


@pytest.fixture(autouse=True)
def _no_color_leak(monkeypatch):
    """Snapshots are taken in colour whatever the developer's environment says."""
    monkeypatch.delenv("NO_COLOR", raising=False)

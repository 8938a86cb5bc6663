"""Snapshot tests: what the explorer shows, screen by screen. The README's screenshots are these.

Review every changed SVG (scripts/snapshot_png.py makes PNGs) before running with --snapshot-update.
"""

from __future__ import annotations

import pytest
from textual.widgets import Input

from appkit import DEMO, HOSTILE, make_app, settle, type_text
from records import real_like

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

    def test_demo_80x24(self, snap_compare, demo_index):
        assert snap_compare(make_app(index=demo_index), terminal_size=SMALL, run_before=_ready)


class TestFilteredView:
    def test_access_denied_burst(self, snap_compare, demo_index):
        run = _steps(("slash",), "error:AccessDenied", ("enter",))
        assert snap_compare(make_app(index=demo_index), terminal_size=WIDE, run_before=run)

    def test_bad_filter_is_shown_inline(self, snap_compare, demo_index):
        run = _steps(("slash",), "error:AccessDenied principle:vendor")
        assert snap_compare(make_app(index=demo_index), terminal_size=SMALL, run_before=run)


class TestDetailView:
    def test_decrypt_with_encryption_context(self, snap_compare, demo_index):
        """The stolen session decrypting a secret: who, from where, under which context."""
        run = _steps(("slash",), "principal:AdminSSO ctx:SecretARN=db-credentials", ("enter", "enter"))
        assert snap_compare(make_app(index=demo_index), terminal_size=WIDE, run_before=run)

    def test_schedule_key_deletion_80x24(self, snap_compare, demo_index):
        run = _steps(("slash",), "event:ScheduleKeyDeletion", ("enter", "enter"))
        assert snap_compare(make_app(index=demo_index), terminal_size=SMALL, run_before=run)


class TestTrailWarning:
    def test_excluded_trail_selected(self, snap_compare, demo_index):
        """The trail whose KMS logging was switched off, selected: its events, with the
        PutEventSelectors that did it, and the full warning in the status line."""
        run = _steps(("1", "enter"))
        assert snap_compare(make_app(index=demo_index), terminal_size=WIDE, run_before=run)


class TestRealLikeFolder:
    """A folder like the public real-data corpus: trails first, folders of records as one row
    each, keys told apart by region and account, STATE kept at 80x24, years kept."""

    def test_wide(self, snap_compare, tmp_path):
        app = make_app(real_like(tmp_path / "real"))
        assert snap_compare(app, terminal_size=WIDE, run_before=_steps(("2", "G")))

    def test_80x24(self, snap_compare, tmp_path):
        app = make_app(real_like(tmp_path / "real"))
        assert snap_compare(app, terminal_size=SMALL, run_before=_steps(("2",)))


class TestHelpScreen:
    def test_help(self, snap_compare, demo_index):
        run = _steps(("question_mark",))
        assert snap_compare(make_app(index=demo_index), terminal_size=WIDE, run_before=run)


class TestHostileText:
    def test_list(self, snap_compare):
        assert snap_compare(make_app(HOSTILE), terminal_size=WIDE, run_before=_ready)

    def test_detail(self, snap_compare):
        run = _steps(("down", "enter"))
        assert snap_compare(make_app(HOSTILE), terminal_size=WIDE, run_before=run)


class TestTimeline:
    def test_timeline_with_a_key_selected(self, snap_compare, demo_index):
        """alias/secrets-prod selected in the keys pane (its seventh row, under the Alibaba keys
        orders-db and etl-staging); the timeline focused, its cursor on the peak."""
        run = _steps(("2", "down", "down", "down", "down", "down", "down", "enter", "t"))
        assert snap_compare(make_app(index=demo_index), terminal_size=WIDE, run_before=run)

    def test_narrowed_to_the_burst_80x24(self, snap_compare, demo_index):
        run = _steps(("t", "enter"))
        assert snap_compare(make_app(index=demo_index), terminal_size=SMALL, run_before=run)


class TestGroupBy:
    def test_stolen_session_by_event_and_key(self, snap_compare, demo_index):
        run = _steps(("slash",), "principal:AdminSSO", ("enter", "b"), "event,key", ("enter",))
        assert snap_compare(make_app(index=demo_index), terminal_size=WIDE, run_before=run)


class TestWhatIsNew:
    def test_new_to_secrets_prod_in_the_incident_hour(self, snap_compare, demo_index):
        """The events marked ✦ are the principals that had never used the key before the hour."""
        text = "alias:secrets-prod since:2026-11-20T02:00Z until:2026-11-20T03:00Z"
        assert snap_compare(make_app(index=demo_index, filter_text=text), terminal_size=WIDE, run_before=_ready)

    def test_what_is_new_view(self, snap_compare, demo_index):
        run = _steps(
            ("slash",),
            "alias:secrets-prod since:2026-11-20T02:00Z until:2026-11-20T03:00Z",
            ("enter", "v", "end", "enter"),
        )
        assert snap_compare(make_app(index=demo_index), terminal_size=WIDE, run_before=run)


class TestSavedView:
    def test_view_from_the_config_file(self, snap_compare, tmp_path, monkeypatch, demo_index):
        (tmp_path / "views.toml").write_text(
            '[[view]]\nname = "vendor"\ntitle = "The vendor role"\nfilter = "principal:vendor-sync"\n'
            'group_by = "event,key"\nsort = "errors"\n'
        )
        monkeypatch.setenv("KMSTUI_CONFIG_DIR", str(tmp_path))
        run = _steps(("v", "end", "enter"))
        assert snap_compare(make_app(index=demo_index), terminal_size=WIDE, run_before=run)


@pytest.fixture(autouse=True)
def _no_user_views(tmp_path_factory, monkeypatch):
    """The developer's own views.toml stays out of the pictures."""
    monkeypatch.setenv("KMSTUI_CONFIG_DIR", str(tmp_path_factory.mktemp("config")))


@pytest.fixture(autouse=True)
def _no_color_leak(monkeypatch):
    """Snapshots are taken in colour whatever the developer's environment says."""
    monkeypatch.delenv("NO_COLOR", raising=False)

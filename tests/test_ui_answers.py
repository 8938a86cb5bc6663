"""The timeline, group-by, what is new and views in the explorer, driven by keys on the demo."""

from __future__ import annotations

import pytest
from textual.widgets import OptionList

from kmstui.core import group, query
from kmstui.ui.groups import GroupByScreen, GroupsPane
from kmstui.ui.panes import EventsPane
from kmstui.ui.timeline import TimelineStrip
from kmstui.ui.viewlist import ViewsScreen

from appkit import explorer, lines, make_app, settle, type_text

SIZE = (120, 36)
SMALL = (80, 24)
BURST = "since:2026-11-20T02:10:00Z until:2026-11-20T02:19:59Z"


def _filter(app) -> str:
    return explorer(app).filter_text


def _caption(app) -> str:
    strip = app.screen.query_one(TimelineStrip)
    return strip.render_line(2).text


@pytest.fixture(autouse=True)
def _no_user_views(tmp_path, monkeypatch):
    monkeypatch.setenv("KMSTUI_CONFIG_DIR", str(tmp_path / "config"))


class TestTimeline:
    @pytest.mark.parametrize("size", [SIZE, SMALL])
    async def test_the_access_denied_burst_is_narrowed_to_in_two_keys(self, size, demo_index):
        app = make_app(index=demo_index)
        async with app.run_test(size=size) as pilot:
            await settle(pilot)
            assert "not logged: acme-main" in _caption(app)
            await pilot.press("t")
            assert isinstance(app.focused, TimelineStrip)
            assert _caption(app).startswith(" ▲ 2026-11-20 02:10–02:20 · 63 events · 45 errors")
            await pilot.press("enter")
            await settle(pilot)
            assert _filter(app) == BURST
            assert (
                explorer(app).query_one(EventsPane).row_count == 63
            )  # the 45 AccessDenied and what else both clouds did then
            assert explorer(app).filter.describe() == BURST  # shown in the status line, and editable in the bar
            await pilot.press("minus")
            await settle(pilot)
            assert _filter(app) == "" and explorer(app).query_one(EventsPane).row_count == 1369

    async def test_the_strip_follows_the_filter_and_keeps_its_words(self, demo_index):
        app = make_app(index=demo_index, filter_text="error:AccessDenied")
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            line = app.screen.query_one(TimelineStrip).timeline
            assert line is not None and int(line.total.sum()) == 45
            await pilot.press("t", "right", "enter")
            await settle(pilot)
            assert _filter(app).startswith("error:AccessDenied since:")  # the filter's own terms stay

    async def test_not_logged_is_hatched_where_acme_main_stopped(self, demo_index):
        app = make_app(index=demo_index)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            strip = app.screen.query_one(TimelineStrip)
            line = strip.timeline
            assert line is not None
            first = int(line.unlogged.nonzero()[0][0])
            top = strip.render_line(0).text
            assert top[first:].strip(" ").startswith("░") or "░" in top[first : first + 3]
            assert "░" not in top[: first - 1].replace(" ", "")


class TestGroupBy:
    async def test_group_drill_down_and_back_to_the_same_row(self, demo_index):
        app = make_app(index=demo_index, filter_text="principal:AdminSSO")
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("b")
            assert isinstance(app.screen, GroupByScreen)
            await type_text(pilot, "event,key")
            await pilot.press("enter")
            await settle(pilot)
            pane = explorer(app).query_one(GroupsPane)
            assert pane.display and app.focused is pane
            index = explorer(app).index
            expected = group.group(index, query.parse("principal:AdminSSO").rows(index), ("event", "key"))
            assert pane.grouping is not None
            assert [r.values for r in pane.grouping.rows] == [r.values for r in expected.rows]
            assert lines(pane)[1].split()[:3] == ["Decrypt", "alias/secrets-prod", "3"]
            await pilot.press("down", "down", "enter")
            await settle(pilot)
            chosen = expected.rows[2]
            assert _filter(app).startswith("principal:AdminSSO event:=DescribeKey key:=arn:aws:kms:")
            assert explorer(app).query_one(EventsPane).display
            assert explorer(app).query_one(EventsPane).row_count == chosen.events
            await pilot.press("escape")
            await settle(pilot)
            assert _filter(app) == "principal:AdminSSO"
            assert pane.display and pane.current is not None and pane.current.values == chosen.values
            await pilot.press("1", "3")
            assert app.focused is pane  # the group-by stands in place of the events
            await pilot.press("escape")
            await settle(pilot)
            assert not pane.display and explorer(app).query_one(EventsPane).display

    async def test_sort_by_any_column(self, demo_index):
        app = make_app(index=demo_index)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("b")
            await type_text(pilot, "principal")
            await pilot.press("enter")
            await settle(pilot)
            pane = explorer(app).query_one(GroupsPane)
            await pilot.press("s")
            assert pane.sort_column == "errors"
            assert pane.grouping is not None
            errors = [r.errors for r in pane.grouping.rows]
            assert errors == sorted(errors, reverse=True)

    @pytest.mark.parametrize("size", [SIZE, SMALL])
    async def test_with_a_window_the_table_counts_what_is_new(self, size, demo_index):
        """The incident hour by principal: the cross-account role's 45 events are all new (✦);
        s sorts by them next."""
        hour = "since:2026-11-20T02:00Z until:2026-11-20T03:00Z"
        app = make_app(index=demo_index, filter_text=hour)
        async with app.run_test(size=size) as pilot:
            await settle(pilot)
            await pilot.press("b")
            await type_text(pilot, "principal")
            await pilot.press("enter")
            await settle(pilot)
            pane = explorer(app).query_one(GroupsPane)
            header, first = lines(pane)[0].split(), lines(pane)[1].split()
            assert header[:3] == ["PRINCIPAL", "EVENTS", "NEW"]
            assert first[0] == "role/vendor-sync" and first[first.index("✦45") - 1] == "45"  # EVENTS, NEW
            await pilot.press("s")
            assert pane.sort_column == "new" and pane.grouping is not None
            news = [r.new for r in pane.grouping.rows]
            assert news == sorted(news, reverse=True) and news[0] == 45

    async def test_a_field_that_cannot_group_is_said(self, demo_index):
        app = make_app(index=demo_index)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("b")
            await type_text(pilot, "since")
            await pilot.press("enter")
            assert isinstance(app.screen, GroupByScreen)
            assert "cannot group by 'since'" in str(app.screen.query_one("#group-by-error").render())


class TestWhatIsNew:
    async def test_principals_new_to_secrets_prod_in_the_incident_hour(self, demo_index):
        text = "alias:secrets-prod since:2026-11-20T02:00Z until:2026-11-20T03:00Z"
        app = make_app(index=demo_index, filter_text=text)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            shown = [line for line in lines(explorer(app).query_one(EventsPane))[1:] if line.strip()]
            marked = [line for line in shown if "✦" in line]
            assert marked and all("vendor-sy" in line for line in marked)
            assert any("AdminSSO" in line and "✦" not in line for line in shown)  # it had used the key before


USER_VIEWS = """
[[view]]
name = "denied-payments"
title = "Payments: who is denied"
filter = "alias:payments error:AccessDenied"
group_by = "principal,ip"
sort = "errors"
"""


class TestViews:
    async def test_a_user_view_from_the_config_file(self, tmp_path, monkeypatch, demo_index):
        config = tmp_path / "mine"
        config.mkdir()
        (config / "views.toml").write_text(USER_VIEWS)
        monkeypatch.setenv("KMSTUI_CONFIG_DIR", str(config))
        app = make_app(index=demo_index)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("v")
            assert isinstance(app.screen, ViewsScreen)
            await pilot.press("end", "enter")
            await settle(pilot)
            assert _filter(app) == "alias:payments error:AccessDenied"
            pane = explorer(app).query_one(GroupsPane)
            assert pane.display and pane.grouping is not None and pane.grouping.fields == ("principal", "ip")
            assert pane.sort_column == "errors"

    async def test_a_broken_config_file_is_named_and_the_app_starts(self, tmp_path, monkeypatch, demo_index):
        config = tmp_path / "broken"
        config.mkdir()
        (config / "views.toml").write_text("[[view]\nname = 'x'\n")
        monkeypatch.setenv("KMSTUI_CONFIG_DIR", str(config))
        app = make_app(index=demo_index)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            said = [n.message for n in app._notifications]
            assert any("views.toml: not valid TOML" in m for m in said)
            assert explorer(app).query_one(EventsPane).row_count == 1369

    @pytest.mark.parametrize("size", [SIZE, SMALL])
    async def test_every_view_fits_its_lines_without_wrapping(self, size, demo_index):
        """Title, question and filter on a line each, at 80x24 too: a filter cut mid-word over
        two lines read as two filters."""
        app = make_app(index=demo_index)
        async with app.run_test(size=size) as pilot:
            await settle(pilot)
            await pilot.press("v")
            await pilot.pause()
            views = app.screen.query_one("#views", OptionList)
            written = sum(len(str(option.prompt).splitlines()) for option in views.options)
            assert written == 3 * views.option_count - sum(1 for v in explorer(app).views.views if not v.about)
            assert views.virtual_size.height == written

    async def test_views_keep_the_window_and_the_palette_lists_them(self, demo_index):
        app = make_app(index=demo_index, filter_text="since:2026-11-20T02:00Z")
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            titles = [title for title, _help, _run in explorer(app).palette_commands()]
            assert "View: Key lifecycle" in titles and "Group by event × ip" in titles and "Go to timeline" in titles
            assert any(t.startswith("Pivot: principal:=") for t in titles)
            view = next(v for v in explorer(app).views.views if v.name == "new")
            explorer(app).apply_view(view)
            await settle(pilot)
            assert _filter(app) == "new:any since:2026-11-20T02:00Z"
            assert explorer(app).query_one(GroupsPane).display


class TestEventsOrder:
    async def test_o_sorts_the_events_by_the_next_column_and_O_reverses(self, demo_index):
        app = make_app(index=demo_index, filter_text="since:2026-11-20T02:00Z")
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("o")
            await settle(pilot)
            pane = explorer(app).query_one(EventsPane)
            index = explorer(app).index
            names = [index.event(int(r)).name for r in pane.rows]
            assert names == sorted(names, key=str.lower)
            assert "EVENT ▲" in lines(pane)[0]
            await pilot.press("O")
            await settle(pilot)
            names = [index.event(int(r)).name for r in pane.rows]
            assert names == sorted(names, key=str.lower, reverse=True)

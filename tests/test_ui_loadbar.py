"""The load's progress line: one widget, the bar giving way to the text in a narrow terminal."""

from __future__ import annotations

from textual.app import App, ComposeResult

from kmstui.ui.loadbar import BAR_WIDTH, LoadBar, LoadLine

from appkit import darker_than_its_background, lines

TEXT = "44 of 500 files · 88,000 records · 25,568 records/s · Esc stops"


class BarApp(App[None]):
    def compose(self) -> ComposeResult:
        yield LoadBar()


async def _drawn(width: int, line: LoadLine) -> str:
    app = BarApp()
    async with app.run_test(size=(width, 3)) as pilot:
        bar = app.query_one(LoadBar)
        bar.line = line
        await pilot.pause()
        return lines(bar)[0]


async def test_at_80_columns_the_whole_text_shows_beside_a_shorter_bar():
    drawn = await _drawn(80, LoadLine(0.5, TEXT))
    assert drawn.rstrip().endswith("records/s · Esc stops")
    assert " 50% 44 of 500 files" in drawn
    bar = drawn.split(" 50%")[0].strip()
    assert 8 <= len(bar) < BAR_WIDTH and set(bar) <= set("━╸╺")


async def test_a_wide_terminal_has_the_whole_bar_half_filled():
    drawn = await _drawn(120, LoadLine(0.5, TEXT))
    bar = drawn.split(" 50%")[0].strip()
    assert bar == "━" * (BAR_WIDTH // 2) + "╺" + "━" * (BAR_WIDTH // 2 - 1)


async def test_what_a_source_names_is_made_visible():
    drawn = await _drawn(120, LoadLine(0.1, "s3://bucket\x1b[31m/ · 1/2 files"))
    assert "␛[31m" in drawn and "\x1b" not in drawn


async def test_an_unknown_end_draws_no_percentage():
    drawn = await _drawn(120, LoadLine(None, "Athena running · Esc stops"))
    assert "%" not in drawn and drawn.rstrip().endswith("Athena running · Esc stops")


async def test_the_text_is_muted_in_a_light_theme_too():
    """$text-muted has alpha: a partial style drew it white, unreadable on a light theme."""
    app = BarApp()
    async with app.run_test(size=(120, 3)) as pilot:
        app.theme = "textual-light"
        bar = app.query_one(LoadBar)
        bar.line = LoadLine(0.5, TEXT)
        await pilot.pause()
        text = next(s for s in bar.render_line(0) if "records" in s.text)
        assert darker_than_its_background(text)


async def test_an_unknown_end_moves_the_bar_only_while_it_is_shown():
    """Athena's query: the bar moves 15 times a second; hidden at the load's end, it stops."""
    app = BarApp()
    async with app.run_test(size=(120, 3)) as pilot:
        bar = app.query_one(LoadBar)
        bar.line = LoadLine(None, "Athena running · Esc stops")
        await pilot.pause()
        assert bar.auto_refresh
        bar.display = False
        await pilot.pause()
        await pilot.pause()
        assert bar.auto_refresh is None
        bar.display = True
        await pilot.pause()
        await pilot.pause()
        assert bar.auto_refresh
        bar.line = LoadLine(0.5, "1 of 2 files")
        assert bar.auto_refresh is None

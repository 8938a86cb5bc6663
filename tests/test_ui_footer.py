"""The footer at 80 and 120 columns: in every place, the keys that matter there are shown
whole, beside the command palette's key, in this order (the focused part's own keys first,
Help and Quit last)."""

from __future__ import annotations

import pytest
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from appkit import explorer, make_app, settle, type_text

EVERYWHERE = ["Filter", "Timeline", "Group by", "Views", "Help", "Quit"]
PLACES = {
    "events": ("3", ["Open", *EVERYWHERE]),
    "keys": ("2", ["Select", *EVERYWHERE]),
    "trails": ("1", ["Select", *EVERYWHERE]),
    # t would go nowhere from the timeline: its place goes to the timeline's own keys
    "timeline": ("t", ["Peak", "Narrow", "Widen", *(d for d in EVERYWHERE if d != "Timeline")]),
    "groups": ("b", ["Drill", "Sort", *EVERYWHERE]),
    "detail": ("enter", ["Back", "Next", "Prev", "Copy", "Filter by…", "Help"]),
}


def shown(app) -> tuple[list[str], int]:
    """The footer's keys drawn whole left of the palette's key, in order, and how many are cut."""
    footer = app.screen.query_one(Footer)
    palette = footer.query_one("FooterKey.-command-palette", FooterKey)
    assert palette.region.right == app.size.width  # the palette's key, at the right end
    keys = [key for key in footer.query(FooterKey) if key is not palette]
    whole = [key.description for key in keys if key.region.width and key.region.right <= palette.region.x]
    return whole, len(keys) - len(whole)


@pytest.mark.parametrize("size", [(80, 24), (120, 36)], ids=["80x24", "120x36"])
@pytest.mark.parametrize("place", list(PLACES))
async def test_the_footer_shows_the_keys_that_matter_whole(demo_index, size, place):
    key, expected = PLACES[place]
    app = make_app(index=demo_index)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        if place in ("detail", "groups"):
            await pilot.press("3")
        await pilot.press(key)
        if place == "groups":
            await type_text(pilot, "event,ip")
            await pilot.press("enter")
            await settle(pilot)
            assert explorer(app).grouping is not None
        await pilot.pause()
        await pilot.pause()
        assert shown(app) == (expected, 0)


async def test_the_footer_is_built_once_for_the_keys_that_change_together(demo_index, monkeypatch):
    """At the start the focus, the screen stack and the app's bindings all change at once:
    Textual's footer was built again for each (five times, a layout each), ours once for them
    all; the focus given after the first frame changes no key it shows, and builds nothing."""
    built = 0
    compose = Footer.compose

    def counted(self):
        nonlocal built
        if self._bindings_ready:  # before the keys are known it yields nothing
            built += 1
        yield from compose(self)

    monkeypatch.setattr(Footer, "compose", counted)
    app = make_app(index=demo_index)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.pause()
        assert shown(app) == (PLACES["events"][1], 0)
    assert built == 1

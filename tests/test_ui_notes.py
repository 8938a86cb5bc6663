"""The trails pane's notes at 80x24: wrapped at spaces, never inside a word; a word wider
than the pane's line on its own is cut there with an ellipsis, nothing else is."""

from __future__ import annotations

import pytest

from kmstui.ui.panes import TrailsPane
from kmstui.ui.table import wrap_words

from appkit import lines, make_app, settle
from records import assumed_role, cloudtrail_file, kms, trail_config, write


def test_lines_break_at_spaces_and_only_an_over_long_word_is_cut():
    text = "StopLogging failed 01-01 00:00 by ram-user/deploy-bot (TrailNotFoundException)"
    assert wrap_words(text, 24) == [
        "StopLogging failed 01-01",
        "  00:00 by",
        "  ram-user/deploy-bot",
        "  (TrailNotFoundExcepti…",  # 24 cells: wider than a line after the indent
    ]
    assert wrap_words(text, 80) == [text]
    assert wrap_words("a " + "x" * 30, 12) == ["a", "  xxxxxxxxx…"]
    assert wrap_words("x" * 30, 12) == ["xxxxxxxxxxx…"]  # the first line has no indent
    assert wrap_words("鍵の" * 8 + " end", 12) == ["鍵の鍵の鍵…", "  end"]  # cells, not characters
    assert wrap_words("", 12) == [] and wrap_words("   ", 12) == []


@pytest.mark.parametrize("error", ["TrailNotFoundException", "InvalidTrailNameException"])
async def test_trail_notes_wrap_at_words_at_80x24(tmp_path, error):
    who = assumed_role("tester", "s1")
    records = [
        kms("Decrypt", time="2026-11-20T10:00:00Z"),
        trail_config("StopLogging", "example-trail", identity=who, error=error, time="2026-11-20T10:05:00Z"),
    ]
    write(tmp_path / "log.json", cloudtrail_file(records))
    app = make_app(tmp_path / "log.json")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        pane = app.screen.query_one(TrailsPane)
        (trail,) = [t for t in pane.trails if t.notes]
        (note,) = [n for n in trail.notes if error in n]
        drawn = [line.strip() for line in lines(pane) if line.strip()]
        start = next(i for i, line in enumerate(drawn) if line.startswith(note.split()[0]))
        words = note.split()
        shown = " ".join(drawn[start:]).split()[: len(words)]
        width = pane.size.width
        for word, seen in zip(words, shown, strict=True):
            if seen != word:  # cut: only a word wider than a line of the pane
                assert seen.endswith("…") and word.startswith(seen[:-1]) and len(word) > width - 8, (word, seen)
        assert shown[-1].startswith(f"({error[:12]}")

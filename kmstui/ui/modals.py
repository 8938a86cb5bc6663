"""Modal screens of the explorer: help, and the load summary."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Markdown, Static

from ..core.text import clean

HELP = Path(__file__).with_name("help.md")


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark,f1", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Markdown(HELP.read_text(encoding="utf-8"))

    def on_mount(self) -> None:
        self.query_one("#help").border_title = "Help"
        self.query_one("#help").border_subtitle = "Escape closes"


class LoadSummaryScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,l", "dismiss", "Close")]

    def __init__(self, sentences: list[str]):
        super().__init__()
        self.sentences = sentences

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="load-summary"):
            yield Static(Content("\n".join(f"• {clean(s)}" for s in self.sentences)))

    def on_mount(self) -> None:
        self.query_one("#load-summary").border_title = "Load summary"
        self.query_one("#load-summary").border_subtitle = "Escape closes"

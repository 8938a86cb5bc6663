"""The kmstui application: a thin shell around the explorer screen."""

from __future__ import annotations

import sys
from collections.abc import Iterable

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from ..core import loader
from ..core.index import EventIndex
from ..core.text import clean
from .explorer import ExplorerScreen


class KmsApp(App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "kmstui"
    ENABLE_COMMAND_PALETTE = True  # ctrl+p: views, group-bys, pivots and panes (see get_system_commands)

    BINDINGS = [
        Binding("question_mark,f1", "help", "Help", id="app.help"),
        Binding("q", "quit", "Quit", id="app.quit"),
    ]

    def __init__(self, sources: list[str] | None = None, **options):
        """``options`` are the explorer's: extra_files, filter_text, index, live, follow, athena."""
        super().__init__()
        self.explorer = ExplorerScreen(sources, **options)

    @property
    def index(self) -> EventIndex:
        return self.explorer.index

    def get_default_screen(self) -> Screen:
        """The explorer is the first screen, composed with the app: pushed on top of Textual's
        default screen while the app's start is batched, its first frame was drawn, thrown
        away and drawn again (0.2 s of CPU before the first events were on the terminal)."""
        return self.explorer

    async def settled(self) -> None:
        """Wait until loading is over and the newest filter result is on screen (for tests)."""
        await self.explorer.settled()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if screen is self.explorer:
            for title, help, callback in self.explorer.palette_commands():
                yield SystemCommand(title, help, callback)

    def action_help(self) -> None:
        from .modals import HelpScreen  # Markdown, imported when help is first asked for

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())


def run(sources: list[str], **options) -> int:
    app = KmsApp(sources, **options)
    try:
        app.run()
    finally:
        loader.shutdown(wait=True)  # this process exits: see loader.shutdown
        if app.explorer.athena is not None:  # quit while the query runs: Athena bills what it scans
            app.explorer.athena.stop()
        for message in app.explorer.messages:  # what went wrong with AWS, kept for the terminal too
            print(f"kmstui: {clean(message)}", file=sys.stderr)
    return app.return_code or 0

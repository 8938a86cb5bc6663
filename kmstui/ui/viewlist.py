"""The list of views (``v``): built-in questions and the user's own, each a filter and a layout."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from ..core.text import clip
from ..core.views import View


def view_prompt(view: View, width: int = 104) -> Content:
    """Title, what it answers, and the filter and layout it applies, one line each, shortened
    to the list's width (the filter bar shows a filter whole once it is applied)."""
    layout = f" · grouped by {' × '.join(view.group_by)}" if view.group_by else ""
    sort = f", by {view.sort.replace('_', ' ')}" if view.group_by and view.sort != "events" else ""
    mine = "" if view.origin == "built-in" else "  (yours)"
    lines = [clip(view.title, max(8, width - len(mine))) + mine]
    if view.about:
        lines.append("  " + clip(view.about, max(8, width - 2)))
    lines.append("  / " + clip(view.filter or "(the current selection)", max(8, width - 4 - len(layout + sort))))
    lines[-1] = clip(lines[-1] + layout + sort, width)
    text = "\n".join(lines)
    title = len(lines[0])
    return Content(text, strip_control_codes=False).stylize("bold", 0, title).stylize("$text-muted", title)


class ViewsScreen(ModalScreen[View | None]):
    """Pick a view; Escape goes back."""

    BINDINGS = [Binding("escape,v", "close", "Close", id="views.close")]

    def __init__(self, views: list[View]) -> None:
        super().__init__()
        self.views = views

    def compose(self) -> ComposeResult:
        # the list's width (app.tcss: 90% of the screen, at most 110) less its border, padding and scrollbar
        width = min(110, self.app.size.width * 9 // 10) - 6
        yield OptionList(*(Option(view_prompt(v, width), id=v.name) for v in self.views), id="views")

    def on_mount(self) -> None:
        views = self.query_one("#views", OptionList)
        views.border_title = "Views"
        views.border_subtitle = "Enter applies · Escape closes"

    @on(OptionList.OptionSelected)
    def chosen(self, message: OptionList.OptionSelected) -> None:
        self.dismiss(next((v for v in self.views if v.name == message.option.id), None))

    def action_close(self) -> None:
        self.dismiss(None)

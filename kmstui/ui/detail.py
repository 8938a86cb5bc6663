"""The detail view of one event: who, what, when, where; its encryption context; the full record."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content, Span
from textual.screen import ModalScreen, Screen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from ..core.effects import describe, key_before
from ..core.index import EventIndex
from ..core.model import Event, alias_name, is_alias, key_id
from ..core.query import quote
from ..core.sources import SourceError
from ..core.summary import key_aliases
from ..core.text import cell_width, clean, fit, pad
from ..core.timeutil import NO_TIME, short
from .footer import KeysFooter
from .jsonview import plain_json, render_json
from .panes import NOTABLE, EventsPane

LABEL = "bold $text-secondary"
MUTED = "$text-muted"
ERROR = "bold $text-error"
OK = "$text-success"
ACCENT = "bold $text-accent"
CONTEXT_KEY = "bold $text-warning"
EFFECT = "bold $text-warning"


def _ago(seconds: int, newest: int) -> str:
    if seconds == NO_TIME or newest == NO_TIME or newest < seconds:
        return ""
    delta = newest - seconds
    if delta == 0:
        return "the newest event"
    days, rest = divmod(delta, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days >= 7:  # short: the exact time is on the same line
        parts = [f"{days:,} days"]
    elif days:
        parts = [f"{days}d", f"{hours}h"]
    elif hours:
        parts = [f"{hours}h", f"{minutes}m"]
    else:
        parts = [f"{minutes}m", f"{secs}s"]
    return " ".join(parts) + " before the newest event"


class _Lines:
    """Builds a Content from labelled lines of untrusted text, wrapped with a hanging indent."""

    LABEL_WIDTH = 10

    def __init__(self, width: int = 100):
        self.parts: list[str] = []
        self.spans: list[Span] = []
        self.length = 0
        self.width = max(30, width)

    def add(self, text: str, style: str | None = None) -> _Lines:
        """Append untrusted text (cleaned); a trailing newline is kept as a line break."""
        text = clean(text.removesuffix("\n")) + ("\n" if text.endswith("\n") else "")
        if style:
            self.spans.append(Span(self.length, self.length + len(text), style))
        self.parts.append(text)
        self.length += len(text)
        return self

    def _raw(self, text: str) -> None:
        """Layout of our own (line breaks, indents): not record text, so not cleaned."""
        self.parts.append(text)
        self.length += len(text)

    def line(self, label: str, *pieces: tuple[str, str | None]) -> _Lines:
        """`` Label     value``: the value wraps under itself, never under the label."""
        self.add(f" {label:<{self.LABEL_WIDTH - 1}}", LABEL)
        room = self.width - self.LABEL_WIDTH - 1  # a cell spare: the widget must never wrap it again
        column = 0
        for text, style in pieces:
            text = clean(text)
            while text:
                if column >= room:
                    self._raw("\n" + " " * self.LABEL_WIDTH)
                    column = 0
                    text = text.lstrip(" ")
                    if not text:
                        break
                take = fit(text, room - column)  # cells, not characters: 日 takes two
                if not take:  # a wide character in the last cell: it starts the next line
                    if column:
                        column = room
                        continue
                    take = text[:1]
                full = False
                if len(take) < len(text):  # break at a space when there is one in reach
                    space = take.rfind(" ")
                    if space > len(take) // 3:
                        take = take[: space + 1]
                        full = True
                self.add(take, style)
                column = room if full else column + cell_width(take)
                text = text[len(take) :]
        return self.add("\n")

    def content(self) -> Content:
        return Content("".join(self.parts).rstrip("\n"), self.spans, strip_control_codes=False)


def summary_content(event: Event, index: EventIndex, record: dict | None = None, width: int = 100) -> Content:
    lines = _Lines(width)
    lines.add(f" {event.name}", ACCENT)
    kind = " · ".join(
        p
        for p in (
            event.source,
            event.event_type or "",
            {True: "read-only", False: "changes state", None: ""}[event.read_only],
        )
        if p
    )
    lines.add(f"   {kind}\n", MUTED)
    for effect in describe(record, key_before(index, event.row)) if record else ():
        lines.line("Effect", (effect, EFFECT if not event.error_code and event.name in NOTABLE else None))
    when = short(event.time) + (" UTC" if event.time != NO_TIME else "")
    ago = _ago(event.time, index.snapshot.newest)
    lines.line("When", (when, None), (f"   {ago}" if ago else "", MUTED))
    principal = event.principal
    detail = " · ".join(
        p for p in (principal.identity_type, f"account {principal.account}" if principal.account else "") if p
    )
    lines.line(
        "Who",
        (principal.short, ACCENT if principal.cross_account else None),
        (f"   {detail}" if detail else "", MUTED),
    )
    if principal.cross_account:
        lines.line("", (f"cross-account: the caller's account {principal.account} differs from {event.account}", ERROR))
    if principal.arn:
        lines.line("", (principal.arn, MUTED))
    if principal.invoked_by and principal.invoked_by != principal.short:
        lines.line("", (f"through {principal.invoked_by}", MUTED))
    lines.line(
        "Where",
        (event.region or "?", None),
        (f" · account {event.account}" if event.account else "", None),
        (f" · from {event.source_ip}" if event.source_ip else "", None),
    )
    if event.user_agent:
        lines.line("Agent", (event.user_agent[:300] + ("…" if len(event.user_agent) > 300 else ""), MUTED))
    aliases = key_aliases(index)
    for position, key in enumerate(event.keys or ("",)):
        if not key:
            lines.line("Key", ("(none named)", MUTED))
            continue
        if is_alias(key):
            lines.line(
                "Key" if position == 0 else "",
                (alias_name(key), None),
                ("   alias not tied to a key by the loaded events", MUTED),
            )
            continue
        code = index.vocab["key"].find(key) or 0
        names = index.alias_names_at(code, event.time)
        current = aliases[code].current if code in aliases else []
        lines.line("Key" if position == 0 else "", (", ".join(names) + "  " if names else "", ACCENT), (key, None))
        if current and current != names:
            lines.line("", (f"now called {', '.join(current)}", MUTED))
    for alias in event.aliases:
        lines.line("Alias", (alias_name(alias), None), ("   named in the request", MUTED))
    if event.error_code:
        lines.line("Result", (event.error_code, ERROR))
        if event.error_message:
            lines.line("", (event.error_message[:600], None))
    else:
        lines.line("Result", ("success", OK))
    lines.line("Event id", (event.event_id or "(none)", MUTED))
    if event.shares_id:
        lines.line("", ("another loaded event has this id, name and time but differs: both are kept", ERROR))
    lines.line("From", (event.origin, MUTED))
    return lines.content()


def context_content(event: Event) -> Content:
    lines = _Lines()
    if not event.contexts:
        lines.add(" Encryption context", LABEL).add("   none in this event", MUTED)
        return lines.content()
    for label, pairs in event.contexts:
        if label or len(event.contexts) > 1:
            lines.add(f" {label or 'request'}\n", LABEL)
        width = min(28, max(cell_width(clean(k)) for k, _ in pairs))
        for key, value in pairs:
            shown = value if len(value) <= 600 else value[:600] + f"… ({len(value) - 600:,} more characters)"
            lines.add("   " + pad(clean(key), width), CONTEXT_KEY).add("  ").add(shown, None).add("\n")
    return lines.content()


class PivotMenu(ModalScreen[str | None]):
    """Choose what to filter the events by."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, choices: list[tuple[str, str]]):
        super().__init__()
        self.choices = choices

    def compose(self) -> ComposeResult:
        menu = OptionList(*[Option(Content(clean(label)), id=str(i)) for i, (label, _) in enumerate(self.choices)])
        menu.border_title = "Filter the events by"
        yield menu

    def on_option_list_option_selected(self, message: OptionList.OptionSelected) -> None:
        if message.option.id is not None:
            self.dismiss(self.choices[int(message.option.id)][1])


class DetailScreen(Screen[str | None]):
    """One event in full. Dismissed with a pivot filter, or None to go back."""

    BINDINGS = [
        Binding("escape,q", "back", "Back", id="detail.back"),
        Binding("n", "step(1)", "Next", id="detail.next"),
        Binding("p", "step(-1)", "Prev", tooltip="Previous event", id="detail.previous"),
        Binding("c", "copy", "Copy", tooltip="Copy the record", id="detail.copy"),
        # k u i x: in the help, and all four in f's menu (80 columns hold no more)
        Binding("k", "pivot('key')", "By key", show=False, id="detail.by_key"),
        Binding("u", "pivot('principal')", "By principal", show=False, id="detail.by_principal"),
        Binding("i", "pivot('ip')", "By IP", show=False, id="detail.by_ip"),
        Binding("x", "pivot('context')", "By context", show=False, id="detail.by_context"),
        Binding("f", "pivot('menu')", "Filter by…", id="detail.filter_by"),
        Binding("question_mark,f1", "app.help", "Help", id="detail.help"),
    ]

    def __init__(self, index: EventIndex, pane: EventsPane, position: int):
        super().__init__()
        self.index = index
        self.pane = pane
        self.position = position
        self.event: Event | None = None
        self.record: dict | None = None

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="detail-scroll"):
            yield Static(id="detail-summary")
            yield Static(id="detail-context")
            yield Static(id="detail-record")
        yield KeysFooter(compact=True)

    def on_mount(self) -> None:
        self.show()

    def show(self) -> None:
        row = self.pane.row_of(self.position)
        if row is None:
            return
        self.event = event = self.index.event(row)
        record_view = self.query_one("#detail-record", Static)
        try:
            self.record = self.index.record(row)
            record_view.update(render_json(self.record))
        except SourceError as error:
            self.record = None
            record_view.update(Content.styled(f"The original record cannot be read again: {error}.", ERROR))
        self._render_summary()
        self.query_one("#detail-context", Static).update(context_content(event))
        record_view.border_title = "Record"
        self.query_one("#detail-context", Static).border_title = "Encryption context"
        self.query_one(
            "#detail-summary", Static
        ).border_title = f"Event {self.position + 1:,} of {len(self.pane.rows):,}"
        self.query_one("#detail-scroll", VerticalScroll).scroll_home(animate=False)

    def _render_summary(self, again: bool = True) -> None:
        summary = self.query_one("#detail-summary", Static)
        if self.event is None:
            return
        width = summary.content_region.width or self.app.size.width - 10
        summary.update(summary_content(self.event, self.index, self.record, width))
        if again and not summary.content_region.width:  # not laid out yet: once more when it is
            self.call_after_refresh(self._render_summary, False)

    def on_resize(self) -> None:
        if self.event is not None:
            self._render_summary()

    def action_back(self) -> None:
        self.dismiss(None)

    def action_step(self, delta: int) -> None:
        target = self.position + delta
        if 0 <= target < len(self.pane.rows):
            self.position = target
            self.pane.move_to(target)
            self.show()
        else:
            self.notify("No more events that way.", timeout=2)

    def action_copy(self) -> None:
        if self.record is None:
            self.notify(
                "The original record cannot be read again, so there is nothing to copy.",
                severity="warning",
                markup=False,
            )
            return
        text = plain_json(self.record)
        self.app.copy_to_clipboard(text)
        self.notify(f"Copied the record ({len(text.encode()):,} bytes) to the clipboard.", markup=False)

    def _pivots(self) -> dict[str, list[tuple[str, str]]]:
        event = self.event
        choices: dict[str, list[tuple[str, str]]] = {"key": [], "principal": [], "ip": [], "context": []}
        if event is None:
            return choices
        for key in event.keys:
            if is_alias(key):
                choices["key"].append((f"alias  {alias_name(key)}", f"alias:{quote(alias_name(key))}"))
            else:
                choices["key"].append((f"key  {key}", f"key:{quote(key_id(key))}"))
        for alias in event.aliases:
            choices["key"].append((f"alias  {alias_name(alias)}", f"alias:{quote(alias_name(alias))}"))
        if event.principal.short and event.principal.short != "(unknown)":
            choices["principal"].append(
                (f"principal  {event.principal.short}", f"principal:{quote(event.principal.short)}")
            )
        if event.source_ip:
            choices["ip"].append((f"source IP  {event.source_ip}", f"ip:{quote(event.source_ip)}"))
        for _label, pairs in event.contexts:
            for key, value in pairs:
                choices["context"].append((f"context  {key} = {value[:80]}", f"ctx:{quote(f'{key}={value}')}"))
        return choices

    def action_pivot(self, what: str) -> None:
        choices = self._pivots()
        if what == "menu":
            options = choices["key"] + choices["principal"] + choices["ip"] + choices["context"]
            # exactly this name and code: event:DisableKey would also be DisableKeyRotation
            options.append(
                (f"event  {self.event.name}", f"event:={quote(self.event.name)}") if self.event else ("", "")
            )
            if self.event and self.event.error_code:
                options.append((f"error  {self.event.error_code}", f"error:={quote(self.event.error_code)}"))
        else:
            options = choices[what]
        options = [o for o in options if o[1]]
        if not options:
            self.notify(f"This event names no {what}.", timeout=3, markup=False)
        elif len(options) == 1:
            self.dismiss(options[0][1])
        else:
            self.app.push_screen(PivotMenu(options), self._picked)

    def _picked(self, term: str | None) -> None:
        if term:
            self.dismiss(term)

"""The footer: Textual's, recomposed once for the changes of keys that arrive together, and
not at all when the keys it would show are those it shows."""

from __future__ import annotations

from collections.abc import Hashable

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer


class KeysFooter(Footer):
    """Textual's footer recomposes (a dozen keys mounted again, and a layout of the screen) for
    each change of the keys it hears of: the focus, the screen stack, the app's bindings. At the
    explorer's start five come at once, and the footer was built five times (0.1 s of CPU taken
    from the load). Here a change that comes while a recompose is due joins it: the recompose
    reads the keys as they are when it runs. And most changes it hears of change nothing it
    shows (the terminal's focus coming in, a focus that moves within the same keys): then it
    is not built again (each was about 30 ms of CPU, a layout of the screen included, in the
    first second of a load)."""

    _recompose_due = False
    _composed: Hashable = None  # what the keys shown were built from

    def bindings_changed(self, screen: Screen) -> None:
        self._bindings_ready = True
        if not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen and not self._recompose_due:
            self._recompose_due = True
            self.call_after_refresh(self._recompose_now)

    async def _recompose_now(self) -> None:
        self._recompose_due = False
        if self._keys_shown() != self._composed:
            await self.recompose()

    def compose(self) -> ComposeResult:
        self._composed = self._keys_shown()
        yield from super().compose()

    def _keys_shown(self) -> Hashable:
        """All that Footer.compose reads: the screen's active bindings, whether each is enabled,
        their tooltips, and the footer's own settings."""
        if not self._bindings_ready or not self.is_attached:
            return None
        active = tuple(
            (key, binding, enabled, tooltip)
            for key, (_, binding, enabled, tooltip) in self.screen.active_bindings.items()
        )
        return (self.compact, self.show_command_palette, self.app.ENABLE_COMMAND_PALETTE, active)

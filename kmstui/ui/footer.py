"""The footer: Textual's, recomposed once for the changes of keys that arrive together."""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer


class KeysFooter(Footer):
    """Textual's footer recomposes (a dozen keys mounted again, and a layout of the screen) for
    each change of the keys it hears of: the focus, the screen stack, the app's bindings. At the
    explorer's start five come at once, and the footer was built five times (0.1 s of CPU taken
    from the load). Here a change that comes while a recompose is due joins it: the recompose
    reads the keys as they are when it runs."""

    _recompose_due = False

    def bindings_changed(self, screen: Screen) -> None:
        self._bindings_ready = True
        if not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen and not self._recompose_due:
            self._recompose_due = True
            self.call_after_refresh(self._recompose_now)

    async def _recompose_now(self) -> None:
        self._recompose_due = False
        await self.recompose()

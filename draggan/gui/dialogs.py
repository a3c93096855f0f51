"""Questions the editor asks before it could lose work: unsaved changes, and restoring after a crash.

app -> here. `UnsavedWorkGuard.request(what, proceed)` runs `proceed` at once when
nothing is unsaved; otherwise a modal offers Save session / Discard / Cancel. Saving
goes through the worker like any save, and `proceed` runs only once the worker
reports the work saved; if the save fails, the error shows and nothing proceeds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from imgui_bundle import imgui

from ..commands import SaveSession
from .driver import record_item

UNSAVED = "Unsaved changes"
RESTORE = "Restore unsaved work?"


@dataclass
class _Pending:
    what: str  # what the user asked for, e.g. "open 'model.pkl'"
    proceed: Callable[[], None]
    saving_since: int | None = None  # error id when a save was sent; None = not saving


class UnsavedWorkGuard:
    def __init__(self):
        self.pending: _Pending | None = None
        self.restore_path: str | None = None  # an autosave left by a session that did not end cleanly
        self.discarded = False  # the user chose to throw the unsaved work away

    def request(self, state, what: str, proceed: Callable[[], None]) -> None:
        if not state.dirty:
            proceed()
            return
        self.pending = _Pending(what, proceed)

    def update(self, state) -> None:
        """Each frame: finish a save-then-proceed once the worker has answered."""
        p = self.pending
        if p is None or p.saving_since is None:
            return
        if state.error_id != p.saving_since:  # the save failed: the banner says why; stay here
            self.pending = None
        elif not state.dirty:
            self.pending = None
            p.proceed()

    def draw(self, app) -> None:
        self._draw_unsaved(app)
        self._draw_restore(app)

    def _draw_unsaved(self, app) -> None:
        p = self.pending
        if p is None or p.saving_since is not None:
            return
        if not imgui.is_popup_open(UNSAVED):
            imgui.open_popup(UNSAVED)
        imgui.set_next_window_pos(imgui.get_main_viewport().get_center(), imgui.Cond_.appearing,
                                  imgui.ImVec2(0.5, 0.5))
        if not imgui.begin_popup_modal(UNSAVED, None, imgui.WindowFlags_.always_auto_resize)[0]:
            return
        target = app.files.save_path("session")
        imgui.text(f"The edit has changes that are not saved in a session.\nSave them before you {p.what}?")
        imgui.text_disabled(f"Save writes {target or '(type a name under Files first)'}")
        imgui.begin_disabled(not target)
        if imgui.button("Save session"):
            p.saving_since = app.state.error_id
            app.worker.send(SaveSession(target))
            imgui.close_current_popup()
        imgui.end_disabled()
        record_item(app.rects, "unsaved_save")
        imgui.same_line()
        if imgui.button("Discard changes"):
            self.pending, self.discarded = None, True
            imgui.close_current_popup()
            p.proceed()
        record_item(app.rects, "unsaved_discard")
        imgui.same_line()
        if imgui.button("Cancel") or imgui.is_key_pressed(imgui.Key.escape):
            self.pending = None
            imgui.close_current_popup()
        record_item(app.rects, "unsaved_cancel")
        imgui.end_popup()

    def _draw_restore(self, app) -> None:
        if self.restore_path is None or self.pending is not None:
            return
        if not imgui.is_popup_open(RESTORE):
            imgui.open_popup(RESTORE)
        imgui.set_next_window_pos(imgui.get_main_viewport().get_center(), imgui.Cond_.appearing,
                                  imgui.ImVec2(0.5, 0.5))
        if not imgui.begin_popup_modal(RESTORE, None, imgui.WindowFlags_.always_auto_resize)[0]:
            return
        imgui.text("The editor did not close cleanly last time.\n"
                   "An automatic copy of the unsaved edit was kept.")
        imgui.text_disabled(self.restore_path)
        if imgui.button("Restore"):
            app.restore(self.restore_path)
            self.restore_path = None
            imgui.close_current_popup()
        record_item(app.rects, "restore_yes")
        imgui.same_line()
        if imgui.button("Discard"):
            Path(self.restore_path).unlink(missing_ok=True)
            self.restore_path = None
            imgui.close_current_popup()
        record_item(app.rects, "restore_no")
        imgui.end_popup()

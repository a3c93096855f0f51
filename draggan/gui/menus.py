"""The menu bar, drawn from `actions.MENUS`: labels, shortcuts, enabled and ticked states come from the table."""

from __future__ import annotations

from pathlib import Path

from imgui_bundle import imgui

from .actions import ACTIONS, MENUS


def draw_menu_bar(app) -> None:
    """One menu per `MENUS` entry; choosing an item runs its action through `app.do`."""
    if not imgui.begin_main_menu_bar():
        return
    for title, names in MENUS.items():
        if not imgui.begin_menu(title):
            continue
        for name in names:
            if name == "-":
                imgui.separator()
            elif name == "@recent":
                _draw_recent(app)
            else:
                a = ACTIONS[name]
                checked = a.checked(app) if a.checked else False
                if imgui.menu_item(_label(app, a), a.shortcut, checked, a.enabled(app))[0]:
                    app.do(name)
        imgui.end_menu()
    imgui.end_main_menu_bar()


def _label(app, a) -> str:
    if a.name == "start_stop":  # the one item whose text follows the state
        return ("Stop" if app.state.running else "Start") + "##start_stop"
    return a.label


def _draw_recent(app) -> None:
    if imgui.begin_menu("Open recent", bool(app.recent.items)):
        for path in app.recent.items:
            if imgui.menu_item(Path(path).name + f"##{path}", "", False)[0]:
                app.open_path(path)
            imgui.set_item_tooltip(path)
        imgui.end_menu()

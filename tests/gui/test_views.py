"""The panel registry and the window's view selector: every panel that fits the selected item is
offered, best first, and the user's pick is kept for items of that kind, across windows."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings

from tensorloupe.gui import nodes as N
from tensorloupe.gui.panels import registry
from tensorloupe.gui.panels.base import Panel
from tensorloupe.gui.panels.info import InfoPanel
from tensorloupe.gui.panels.run import RunPanel
from tensorloupe.gui.panels.signature import SignaturePanel
from tensorloupe.gui.panels.tensor import TensorPanel
from tensorloupe.gui.workers import wait_idle


def _choices(window) -> list[str]:
    sel = window.view_selector
    return [sel.itemData(i) for i in range(sel.count())]


def test_registry_orders_fitting_panels_best_first(window, fixtures_dir):
    window.open_path(fixtures_dir / "saved_models" / "keras_mlp")
    assert wait_idle(timeout=30)
    sig = window.select_path(["serve", "signatures", "serving_default"])
    assert registry.fitting(sig) == [RunPanel, SignaturePanel, InfoPanel]
    init = window.select_path(["serve", "signatures", "__saved_model_init_op"])
    assert RunPanel not in registry.fitting(init)
    assert registry.fitting(init)[0] is SignaturePanel


def test_register_refuses_what_is_not_a_named_panel():
    with pytest.raises(TypeError):
        registry.register(int)

    class Nameless(Panel):
        @classmethod
        def priority(cls, node):
            return 1
    with pytest.raises(ValueError):
        registry.register(Nameless)


def test_selector_lists_views_and_remembers_the_choice_per_kind(qtbot, fixtures_dir, tmp_path):
    from tensorloupe.gui.main_window import MainWindow
    ini = str(tmp_path / "settings.ini")
    window = MainWindow(settings=QSettings(ini, QSettings.IniFormat))
    qtbot.addWidget(window)
    window.show()
    window.open_path(fixtures_dir / "saved_models" / "keras_mlp")
    assert wait_idle(timeout=30)
    window.select_path(["serve", "signatures", "serving_default"])
    assert window.view_bar.isVisible()
    assert _choices(window) == ["run", "signature", "info"]
    assert isinstance(window.current_panel(), RunPanel)

    window.choose_view("signature")
    assert type(window.current_panel()) is SignaturePanel
    # Another signature of the same model: still the chosen view.
    window.select_path(["serve", "signatures", "__saved_model_init_op"])
    window.select_path(["serve", "signatures", "serving_default"])
    assert type(window.current_panel()) is SignaturePanel
    assert window.view_selector.currentData() == "signature"
    # A tensor is another kind of item: its own best view.
    window.select_path(["serve", "variables"])
    window.model.fetch_all()
    assert wait_idle(timeout=30)
    tensor = next(n for n in _walk(window.model.documents()[0]) if n.kind == N.VARIABLE)
    window.tree.setCurrentIndex(window.proxy.mapFromSource(window.model.index_of(tensor)))
    assert isinstance(window.current_panel(), TensorPanel)
    assert wait_idle(timeout=30)
    window.close()

    # A new window with the same settings keeps the choice.
    again = MainWindow(settings=QSettings(ini, QSettings.IniFormat))
    qtbot.addWidget(again)
    again.show()
    again.open_path(fixtures_dir / "saved_models" / "keras_mlp")
    assert wait_idle(timeout=30)
    again.select_path(["serve", "signatures", "serving_default"])
    assert type(again.current_panel()) is SignaturePanel
    again.choose_view("run")
    assert isinstance(again.current_panel(), RunPanel)
    assert wait_idle(timeout=30)
    again.model.close_all()


def test_unknown_view_name_is_an_input_error(window, fixtures_dir):
    from tensorloupe.core.errors import InputError
    window.open_path(fixtures_dir / "saved_models" / "keras_mlp")
    assert wait_idle(timeout=30)
    window.select_path(["serve", "signatures", "serving_default"])
    with pytest.raises(InputError):
        window.choose_view("tensor")


def _walk(node):
    for child in node.loaded_children():
        yield child
        yield from _walk(child)

"""The run panel's "Limits" button: the run's budget (memory, loop iterations, time).

A tool button whose menu holds three spin boxes; 0 turns a limit off. Defaults are the
engine's (half the RAM up to 8 GiB, 100,000 loop iterations, no time limit). The values
last only as long as the window: they are about the model at hand.
"""
from __future__ import annotations

from PySide6.QtWidgets import (QDoubleSpinBox, QFormLayout, QLabel, QMenu, QSpinBox,
                               QToolButton, QWidget, QWidgetAction)

from tensorloupe.core.engine.context import (DEFAULT_MAX_ITERATIONS, Budget,
                                             default_max_memory)

GiB = 1 << 30


class BudgetButton(QToolButton):
    """``budget()`` is what the spin boxes say, as a core Budget."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setText("Limits")
        self.setPopupMode(QToolButton.InstantPopup)
        form_host = QWidget()
        form = QFormLayout(form_host)
        self.memory = QDoubleSpinBox()
        self.memory.setRange(0, 1 << 20)
        self.memory.setDecimals(2)
        self.memory.setSingleStep(0.5)
        self.memory.setSuffix(" GiB")
        self.memory.setSpecialValueText("no limit")
        self.memory.setValue(default_max_memory() / GiB)
        self.iterations = QSpinBox()
        self.iterations.setRange(0, 2_000_000_000)
        self.iterations.setSingleStep(10_000)
        self.iterations.setSpecialValueText("no limit")
        self.iterations.setValue(DEFAULT_MAX_ITERATIONS)
        self.timeout = QDoubleSpinBox()
        self.timeout.setRange(0, 7 * 24 * 3600)
        self.timeout.setDecimals(1)
        self.timeout.setSuffix(" s")
        self.timeout.setSpecialValueText("no limit")
        self.timeout.setValue(0)
        form.addRow("Memory of tensors", self.memory)
        form.addRow("Loop iterations", self.iterations)
        form.addRow("Time", self.timeout)
        note = QLabel("A run that would go past a limit stops with a message naming the "
                      "node.\n0 turns a limit off.")
        note.setStyleSheet("color: gray;")
        form.addRow(note)
        menu = QMenu(self)
        action = QWidgetAction(menu)
        action.setDefaultWidget(form_host)
        menu.addAction(action)
        menu.aboutToHide.connect(self._update_tip)
        self.setMenu(menu)
        self._update_tip()

    def budget(self) -> Budget:
        return Budget(max_memory=int(self.memory.value() * GiB) or None,
                      max_iterations=self.iterations.value() or None,
                      timeout=self.timeout.value() or None)

    def set_budget(self, budget: Budget) -> None:
        self.memory.setValue((budget.max_memory or 0) / GiB)
        self.iterations.setValue(int(budget.max_iterations or 0))
        self.timeout.setValue(float(budget.timeout or 0))
        self._update_tip()

    def _update_tip(self) -> None:
        self.setToolTip("This run's limits: " + self.budget().text())

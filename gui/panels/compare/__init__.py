"""Checkpoint comparison in the window: a sortable table of every variable and plots of how
they changed, for two checkpoints or a whole training run.

    table   the table model, its filter, the roles and colours
    plots   change per layer, histograms, the difference image, drift curves
    panel   ComparePanel and the background jobs it runs
    host    comparisons as tabs of the main window, and the tree's "Compare" entries
    window  File > Compare Checkpoints…, "Open in A/B", and the window of ``gui --compare``

The numbers come from ``core.compare``; how they read (cell texts, colours, labels) from
``core.compare_view``.
"""
from __future__ import annotations

from .panel import ComparePanel
from .plots import DifferenceImage, DriftPlot, HistogramPlot, LayerChart
from .table import (COLOR_A, COLOR_B, SORT_ROLE, VARIABLE_ROLE, CompareFilter, CompareTableModel,
                    change_color)
from .host import CompareHost, CompareTab, checkpoint_prefix, run_directory, start_directory
from .window import (CompareWindow, ask_compare, choose_checkpoint, open_in_window,
                     show_compare, start)

__all__ = [
    "ComparePanel", "CompareWindow", "CompareTableModel", "CompareFilter",
    "LayerChart", "HistogramPlot", "DifferenceImage", "DriftPlot",
    "SORT_ROLE", "VARIABLE_ROLE", "COLOR_A", "COLOR_B", "change_color",
    "CompareHost", "CompareTab", "checkpoint_prefix", "run_directory", "start_directory",
    "start", "ask_compare", "choose_checkpoint", "open_in_window", "show_compare",
]

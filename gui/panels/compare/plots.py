"""The comparison's plots: change per layer, histograms of A and B, the difference image of one
variable, and a variable's drift across a training run.

pyqtgraph's look (white background, row-major images) is set once when the application starts
(``gui.theme``); these widgets only draw.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor

from tensorloupe.core import compare as C
from tensorloupe.core import compare_view as V

from .table import COLOR_A, COLOR_B

BAR_DARKER = 115  # the layer bars a shade darker than the table's cells, to stand out on white


def _plain(plot_item) -> None:
    """Axis values as they are: relative changes and counts read badly with SI prefixes."""
    for name in ("left", "bottom"):
        plot_item.getAxis(name).enableAutoSIPrefix(False)


class LayerChart(pg.PlotWidget):
    """Horizontal bars: change per layer (model weights) by the ranking's measure, most
    changed on top."""

    MAX_LAYERS = 24

    def __init__(self):
        super().__init__()
        self.plot = self.getPlotItem()
        self.rank_by = C.RMS
        self.plot.setTitle(V.chart_title(self.rank_by), size="9pt")
        self.plot.showGrid(x=True, y=False, alpha=0.25)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        _plain(self.plot)
        self.layers: list[C.LayerSummary] = []

    def set_layers(self, layers: list[C.LayerSummary], rank_by: str | None = None) -> None:
        self.plot.clear()
        if rank_by is not None:
            self.rank_by = rank_by
        self.plot.setTitle(V.chart_title(self.rank_by), size="9pt")
        self.layers = V.chart_layers(layers, self.MAX_LAYERS, self.rank_by)
        n = len(self.layers)
        if not n:
            self.plot.getAxis("left").setTicks([[]])
            return
        values = np.array([V.bar_value(s, self.rank_by) for s in self.layers])
        ys = np.arange(n)[::-1].astype(float)
        brushes = [pg.mkBrush(QColor(*V.layer_change_rgb(s, self.rank_by)).darker(BAR_DARKER))
                   for s in self.layers]
        bars = pg.BarGraphItem(x0=np.zeros(n), y=ys, width=values, height=0.7, brushes=brushes,
                               pen=pg.mkPen(120, 120, 120))
        self.plot.addItem(bars)
        ticks = [(float(y), V.layer_label(s)) for y, s in zip(ys, self.layers)]
        self.plot.getAxis("left").setTicks([ticks])
        self.plot.setYRange(-0.6, n - 0.4, padding=0)
        top = float(values.max()) if values.size else 1.0
        self.plot.setXRange(0, top * 1.08 if top > 0 else 1.0, padding=0)


class HistogramPlot(pg.PlotWidget):
    """The values of A and B of one variable, as overlaid step histograms over the same bins."""

    def __init__(self):
        super().__init__()
        self.plot = self.getPlotItem()
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.plot.setLabel("left", "count")
        self.plot.setLabel("bottom", "value")
        self.legend = self.plot.addLegend(offset=(-10, 10))
        _plain(self.plot)

    def clear_plot(self, title: str = "") -> None:
        self.plot.clear()
        self.legend.clear()
        self.plot.setTitle(title, size="9pt")

    def set_histograms(self, title: str, data: dict) -> None:
        self.clear_plot(title)
        edges = data["edges"]
        for counts, color, label in ((data["a"], COLOR_A, "A"), (data["b"], COLOR_B, "B")):
            fill = QColor(color)
            fill.setAlpha(70)
            item = pg.PlotDataItem(edges, counts, stepMode="center", fillLevel=0,
                                   fillBrush=pg.mkBrush(fill), pen=pg.mkPen(color, width=2),
                                   name=label)
            self.plot.addItem(item)
        self.plot.autoRange()


class DifferenceImage(pg.PlotWidget):
    """B - A of one 2-D slice, on a diverging colour map symmetric around zero."""

    def __init__(self):
        super().__init__()
        self.plot = self.getPlotItem()
        self.plot.invertY(True)
        self.plot.setLabel("bottom", "column")
        self.plot.setLabel("left", "row")
        _plain(self.plot)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        self.bar = pg.ColorBarItem(values=(-1, 1), colorMap=pg.colormap.get("CET-D1"),
                                   interactive=False, width=14)
        self.bar.setImageItem(self.image, insert_in=self.plot)

    def clear_plot(self, title: str = "") -> None:
        self.image.clear()
        self.plot.setTitle(title, size="9pt")

    def set_difference(self, title: str, data: dict) -> None:
        diff = data["diff"]
        finite = diff[np.isfinite(diff)]
        m = float(np.abs(finite).max()) if finite.size else 0.0
        m = m if m > 0 else 1.0
        rows, cols = data["rows"], data["cols"]
        self.plot.setLabel("left", "row" if rows > 1 else "")
        self.plot.getAxis("left").setStyle(showValues=rows > 1)
        self.image.setImage(np.nan_to_num(diff, nan=0.0, posinf=m, neginf=-m),
                            levels=(-m, m), autoLevels=False)
        self.image.setRect(QRectF(0, 0, cols, rows))
        self.bar.setLevels((-m, m))
        step = data["step"]
        note = f"  (every {step}th value)" if step > 1 else ""
        self.plot.setTitle(title + note, size="9pt")
        self.plot.autoRange(padding=0)


class DriftPlot(pg.PlotWidget):
    """A variable's change across a run (by the ranking's measure): from the first checkpoint
    and step by step, with the slider's checkpoint marked; a one-element variable's value at
    every checkpoint instead."""

    def __init__(self):
        super().__init__()
        self.plot = self.getPlotItem()
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        self.plot.setLabel("left", V.measure_label(C.RMS))
        self.plot.setLabel("bottom", "checkpoint")
        self.legend = self.plot.addLegend(offset=(10, 10))
        _plain(self.plot)
        self.marker = pg.InfiniteLine(angle=90, pen=pg.mkPen(120, 120, 120, style=Qt.DashLine))

    def _start(self, title: str, names: list[str], left: str) -> np.ndarray:
        self.plot.clear()
        self.legend.clear()
        self.plot.setTitle(title, size="9pt")
        self.plot.setLabel("left", left)
        every = max(1, len(names) // 8)
        self.plot.getAxis("bottom").setTicks(
            [[(float(i), names[i]) for i in range(0, len(names), every)]])
        self._count = len(names)
        return np.arange(len(names), dtype=float)

    def _finish(self, position: int) -> None:
        self.marker.setValue(position)
        self.plot.addItem(self.marker)
        self.plot.autoRange()
        # room for the first and last checkpoints' names under the axis
        self.plot.setXRange(-0.3, self._count - 0.7, padding=0)

    def set_values(self, title: str, names: list[str], values: list, position: int) -> None:
        """A one-element variable (a counter, a learning rate): its value at each checkpoint."""
        xs = self._start(title, names, "value")
        ys = np.array(V.value_curve(values), dtype=float)
        self.plot.addItem(pg.PlotDataItem(xs, ys, pen=pg.mkPen(COLOR_B, width=2), symbol="o",
                                          symbolSize=6, symbolBrush=COLOR_B, name="value",
                                          connect="finite"))
        self._finish(position)

    def set_drift(self, title: str, names: list[str], drift: dict, position: int,
                  rank_by: str = C.RMS) -> None:
        xs = self._start(title, names, V.measure_label(rank_by))
        from_first = np.array(V.drift_values(drift["from_first"], rank_by), dtype=float)
        step = np.array(V.drift_values(drift["step"], rank_by), dtype=float)
        self.plot.addItem(pg.PlotDataItem(xs, from_first, pen=pg.mkPen(COLOR_B, width=2),
                                          symbol="o", symbolSize=6, symbolBrush=COLOR_B,
                                          name=f"from {names[0]}", connect="finite"))
        self.plot.addItem(pg.PlotDataItem(xs, step,
                                          pen=pg.mkPen(COLOR_A, width=1.5, style=Qt.DashLine),
                                          symbol="t", symbolSize=6, symbolBrush=COLOR_A,
                                          name="from previous", connect="finite"))
        self._finish(position)

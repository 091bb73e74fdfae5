"""A bar chart of one score vector (a classifier's output): the top-k bars highlighted and
labelled with class names where the model has them."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from tensorloupe.core.feeds import top_indices

TOP_K = 5


class ScoreChart(pg.PlotWidget):
    """A bar chart of one score vector: the top-k bars highlighted and labelled."""

    def __init__(self, parent=None):
        super().__init__(parent, background="w")
        self.setMinimumHeight(200)
        self.plotItem.showGrid(y=True, alpha=0.3)
        self.plotItem.setMenuEnabled(False)
        self.plotItem.hideButtons()
        self.getViewBox().setMouseEnabled(x=True, y=False)
        self.labels: list[str] = []
        self.top: list[int] = []

    def set_scores(self, scores: np.ndarray, labels: list[str] | None, k: int = TOP_K,
                   title: str = "") -> None:
        self.clear()
        s = np.asarray(scores, dtype=np.float64).reshape(-1)
        n = len(s)
        self.labels = list(labels) if labels is not None and len(labels) == n else \
            [str(i) for i in range(n)]
        self.top = top_indices(s, k)
        colours = [pg.mkBrush("#e07b00") if i in self.top else pg.mkBrush("#9db4cc")
                   for i in range(n)]
        x = np.arange(n)
        self.addItem(pg.BarGraphItem(x=x, height=np.nan_to_num(s), width=0.8, brushes=colours,
                                     pen=pg.mkPen(None)))
        axis = self.getAxis("bottom")
        if n <= 20:
            axis.setTicks([[(i, self.labels[i]) for i in range(n)]])
        else:
            axis.setTicks([[(i, self.labels[i]) for i in sorted(self.top)]])
        named = labels is not None and len(labels) == n
        for rank, i in enumerate(self.top):
            head = self.labels[i] if named else f"#{rank + 1}"
            text = pg.TextItem(f"{head}\n{s[i]:.3g}", color="#7a3d00", anchor=(0.5, 1.0))
            text.setPos(i, max(float(np.nan_to_num(s[i])), 0.0))
            self.addItem(text)
        ok = s[np.isfinite(s)]
        lo = min(0.0, float(ok.min())) if ok.size else 0.0
        hi = max(0.0, float(ok.max())) if ok.size else 1.0
        if ok.size < n:
            title += f"  ({n - ok.size} NaN/Inf not drawn)"
        span = (hi - lo) or 1.0
        self.setYRange(lo, hi + 0.28 * span, padding=0)
        self.setXRange(-0.6, n - 0.4, padding=0)
        self.setTitle(title, color="#333", size="10pt")

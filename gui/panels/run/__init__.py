"""Run a signature in the window: edit its inputs, run it in the background, look at its outputs.

    panel.py         RunPanel: the signature panel with "Run" and "Trace" tabs; the run job
    inputs.py        InputEditor: how one input is filled, and whether its value fits
    example_form.py  ExampleForm: the rows of a tf.Example input
    outputs.py       RunResult and OutputsView: one run's outputs, history, differences
    score_chart.py   ScoreChart: a bar chart of class scores
    images.py        pixels between numpy and Qt (decoding pictures, previews)
    command_line.py  run_selected: ``tensorloupe gui ... --run --input KEY=FILE``

The numpy side (generating, checking, reading and comparing values) is ``core.feeds``.
"""
from .command_line import run_selected
from .example_form import ExampleForm
from .inputs import InputEditor, shape_html
from .outputs import OutputsView, RunResult
from .panel import RunPanel
from .score_chart import ScoreChart

__all__ = ["RunPanel", "InputEditor", "ExampleForm", "OutputsView", "ScoreChart", "RunResult",
           "shape_html", "run_selected"]

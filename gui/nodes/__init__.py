"""The tree of a document, as plain Python objects (no Qt), built from core's readers.

A ``Node`` has a label (what the tree shows and ``--select`` matches), a kind, optional
dtype/shape/size columns, a ``payload`` the detail panels use, and children that are built on
first use by a loader function. Loaders may be slow (opening a document, opening one checkpoint
of a training run): the Qt model runs those in a worker (``Node.slow``).

Errors while building children become an error child, so one bad piece never hides the rest.

The package: ``node`` (Node, kinds, payload types), ``documents`` (open and close a path),
``checkpoints``, ``saved_models`` and ``graphs`` (the trees of each kind of document).
"""
from __future__ import annotations

from .documents import checkpoint_path_node, close_document, open_document
from .node import *  # noqa: F401,F403 - the kinds and node types, used as N.VARIABLE, N.Node, ...
from .node import __all__ as _node_names

__all__ = [*_node_names, "open_document", "close_document", "checkpoint_path_node"]

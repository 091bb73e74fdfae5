"""Names of the special entries a checkpoint's index can hold besides its tensors.

Kept apart from the reader so that modules which only need to recognise these keys (name
resolution, comparison, SavedModel summaries, the window) import a constant, not the reader.
"""
from __future__ import annotations

# The serialized TrackableObjectGraph of a TF2 object-based checkpoint: bookkeeping, not a
# variable. TF1 (name-based) checkpoints do not have it.
OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"

__all__ = ["OBJECT_GRAPH_KEY"]

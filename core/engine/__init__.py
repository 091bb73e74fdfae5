"""A numpy execution engine for TensorFlow GraphDefs and function libraries.

    from tensorloupe.core import engine
    engine.unsupported_ops(meta_graph)       # ops without a kernel, with node/function names
    engine.Session(graph_def).run(["y:0"], {"x:0": x})
    engine.run_signature(saved_model, "serving_default", {"x": x}, trace=engine.Trace())

Names are imported lazily so that ``import core.engine`` stays cheap.
"""
from __future__ import annotations

_EXPORTS = {
    "Session": "session", "LoadedMetaGraph": "session", "run_signature": "session",
    "run_saved_model": "session", "run_graph": "session", "unsupported_ops": "session",
    "RunOptions": "context", "KernelContext": "context", "Trace": "context",
    "NodeRecord": "context", "Cancelled": "context", "Budget": "context",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'core.engine' has no attribute {name!r}")
    import importlib
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)

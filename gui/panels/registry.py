"""The panels the window can show. Each registered class scores how well it shows a tree node
(``Panel.priority``); every class with a score above 0 is offered in the window's view selector,
best first. Tensorloupe's own panels are registered by ``builtin_panels``; a plug-in registers
its own class with ``register``.
"""
from __future__ import annotations

from .base import Panel

_registered: list[type[Panel]] = []


def register(cls: type[Panel]) -> type[Panel]:
    """Offer ``cls`` for the nodes it scores above 0 (usable as a class decorator)."""
    if not (isinstance(cls, type) and issubclass(cls, Panel)):
        raise TypeError(f"{cls!r} is not a Panel class")
    if not cls.name:
        raise ValueError(f"{cls.__name__} needs a name for the view selector")
    if cls not in _registered:
        _registered.append(cls)
    return cls


def builtin_panels() -> list[type[Panel]]:
    """Tensorloupe's own panels, imported when the first window needs them."""
    from .asset import AssetPanel
    from .info import InfoPanel
    from .run import RunPanel
    from .signature import SignaturePanel
    from .summary import SummaryPanel
    from .tensor import TensorPanel
    return [TensorPanel, SignaturePanel, RunPanel, AssetPanel, SummaryPanel, InfoPanel]


def panel_classes() -> list[type[Panel]]:
    if not _registered:
        for cls in builtin_panels():
            register(cls)
    return list(_registered)


def fitting(node) -> list[type[Panel]]:
    """The panel classes that can show ``node``, best first (registration order breaks ties)."""
    scored = [(cls.priority(node), i, cls) for i, cls in enumerate(panel_classes())]
    return [cls for score, _, cls in sorted(scored, key=lambda t: (-t[0], t[1])) if score > 0]

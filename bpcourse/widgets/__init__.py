"""Live widgets for the course: the playground and the explorers.

Every widget is a plain Python object with ``.controls`` (name -> ipywidgets control),
``.figure`` (a matplotlib Figure updated in place), ``.view`` (the ipywidgets container),
``.update()`` and ``.state()`` (the numbers currently plotted).  Leave one as the last expression
of a cell to show it; without a widget frontend the output still carries a PNG of its state.

    import bpcourse.widgets
    pg = bp.widgets.Playground(preset="deep_sigmoid")
    pg.controls["lr"].value = 0.5      # drive it from Python, read back with pg.state()
"""
from ._base import Widget
from .adversarial import AdversarialExplorer
from .attention import AttentionExplorer
from .conv import ConvExplorer
from .deep import GradientFlowExplorer, InitExplorer, RegularizationExplorer, RemediesExplorer
from .explorers import (
    ActivationExplorer,
    CircuitExplorer,
    FiniteDifferenceExplorer,
    LayerShapeExplorer,
    LearningRateExplorer,
    OptimizerExplorer,
    SoftmaxExplorer,
)
from .gated import GateExplorer
from .playground import PRESETS, Playground
from .recurrent import RNNExplorer

__all__ = ["Widget", "Playground", "PRESETS", "AdversarialExplorer", "ConvExplorer", "GradientFlowExplorer",
           "InitExplorer", "RegularizationExplorer", "RemediesExplorer", "GateExplorer",
           "ActivationExplorer", "CircuitExplorer", "FiniteDifferenceExplorer", "LayerShapeExplorer",
           "LearningRateExplorer", "OptimizerExplorer", "SoftmaxExplorer", "RNNExplorer", "AttentionExplorer"]

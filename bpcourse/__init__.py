"""bpcourse — the engine behind the backpropagation course.

    import bpcourse as bp
    net = bp.nn.MLP([2, 16, 16, 1], activation="tanh", seed=0)
"""
from . import (activations, attention, conv, data, diagnostics, draw, gates, init, input_gradients,
               layers, losses, module, nn, optim, plotting, regularization, rnn, train, validate)
from .gradcheck import GradcheckError, gradcheck, gradcheck_report, numerical_gradient, relative_error
from .scalar import Value

__version__ = "0.1.0"

__all__ = ["Value", "activations", "attention", "conv", "data", "diagnostics", "draw", "gates",
           "init", "input_gradients", "layers", "losses", "module", "nn", "optim", "plotting",
           "regularization", "rnn", "train", "validate", "gradcheck", "gradcheck_report",
           "GradcheckError", "numerical_gradient", "relative_error", "widgets", "__version__"]


def __getattr__(name):
    # `bp.widgets` is loaded on first use: it pulls in ipywidgets and matplotlib, which plain
    # engine users (and the grader's sandboxed children) do not need.
    if name == "widgets":
        import importlib
        return importlib.import_module(".widgets", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

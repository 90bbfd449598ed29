"""refnet: a small, exact, typed NumPy reference for multilayer perceptrons.

The names below are the public API, grouped by task (see ``docs/api.md``).
Data sets live in :mod:`refnet.data`, gradient checks in
:mod:`refnet.gradcheck`, sweeps of many networks in :mod:`refnet.sweep`, the
lab's published program in :mod:`refnet.lab`; all four are imported with the
package.
"""

from . import data, gradcheck, lab, sweep
from .conventions import Published, Reading
from .events import NonFiniteEvent, NonFiniteInputError, NumericalError, NumericalWarning
from .guard import Guard
from .io import load, save
from .layers import Identity, Layer, Linear, ReLU, Sigmoid, Tanh
from .losses import BCE, MSE, BCEWithLogits, Loss
from .metrics import accuracy
from .network import Network, mlp
from .optim import SGD
from .train import History, train

__all__ = [
    # build, train, use
    "mlp", "Network", "train", "History", "SGD", "Published", "Reading", "accuracy", "save", "load",
    # non-finite detection
    "Guard", "NonFiniteEvent", "NumericalError", "NonFiniteInputError", "NumericalWarning",
    # components
    "Layer", "Linear", "Sigmoid", "ReLU", "Tanh", "Identity", "Loss", "MSE", "BCE", "BCEWithLogits",
    # modules: data sets, gradient checks, sweeps of many networks, the lab's program
    "data", "gradcheck", "sweep", "lab",
]

__version__ = "0.1.0"

"""refnet: a small, exact, typed NumPy reference for multilayer perceptrons."""

from .data import dataset, linear, xor_easy
from .io import load, save
from .kernels import BlasKernel, Kernel, PortableKernel, kernel
from .layers import Identity, Layer, Linear, ReLU, Sigmoid, Tanh, sigmoid
from .losses import BCE, MSE, BCEWithLogits, Loss, make_loss
from .metrics import accuracy, classify
from .network import Network, mlp
from .numerics import Guard, NonFiniteEvent, NumericalError
from .observe import Observer, Site
from .optim import SGD
from .precision import FloatArray, Precision, precision
from .train import History, train

__all__ = [
    "Guard", "NonFiniteEvent", "NumericalError",
    "BCE", "BCEWithLogits", "BlasKernel", "FloatArray", "History", "Identity", "Kernel",
    "Layer", "Linear", "Loss", "MSE", "Network", "Observer", "PortableKernel", "Precision",
    "ReLU", "SGD", "Sigmoid", "Site", "Tanh", "accuracy", "classify", "dataset", "kernel",
    "linear", "load", "make_loss", "mlp", "precision", "save", "sigmoid", "train", "xor_easy",
]

__version__ = "0.1.0"

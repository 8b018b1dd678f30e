"""Layers with forward and backward: conv, pooling, linear, norms, activations, shape ops."""

from .activations import ELU, Identity, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from .conv import Conv2d
from .dropout import Dropout
from .linear import Linear
from .merge import Add, Concat
from .norm import BatchNorm1d, BatchNorm2d, GroupNorm, InstanceNorm2d, LayerNorm
from .pooling import AdaptiveAvgPool2d, AvgPool2d, GlobalAvgPool2d, MaxPool2d
from .shape import Flatten
from .upsample import Upsample
from .weight_norm import WeightNorm

__all__ = [
    "AdaptiveAvgPool2d",
    "Add",
    "AvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "Concat",
    "Conv2d",
    "Dropout",
    "ELU",
    "Flatten",
    "GlobalAvgPool2d",
    "GroupNorm",
    "Identity",
    "InstanceNorm2d",
    "LayerNorm",
    "LeakyReLU",
    "Linear",
    "MaxPool2d",
    "ReLU",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "Upsample",
    "WeightNorm",
]

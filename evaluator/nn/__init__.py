"""evaluator.nn: a NumPy deep-learning toolkit for the model under test.

Layers take NCHW float arrays (float64 by default; float32 stays float32), with
PyTorch's names, arguments and parameter shapes. ``forward(x)`` returns the output,
``backward(dy)`` the input gradient, and adds parameter gradients into ``layer.grads``.
Losses, optimizers, schedules, clipping, initialisers, a mini-batch loader and a
gradient checker complete the training loop. NumPy is the only dependency.
"""

from .container import Residual, Sequential, count_parameters
from .data import BatchLoader
from .functional import log_softmax, multilabel_predict, sigmoid, softmax
from .gradcheck import (
    GradientCheckError,
    check_layer_gradients,
    check_loss_gradients,
    numerical_gradient,
    relative_error,
)
from .init import (
    calculate_gain,
    kaiming_normal_,
    kaiming_uniform_,
    xavier_normal_,
    xavier_uniform_,
)
from .layers import (
    ELU,
    AdaptiveAvgPool2d,
    Add,
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    Concat,
    Conv2d,
    Dropout,
    Flatten,
    GlobalAvgPool2d,
    GroupNorm,
    Identity,
    InstanceNorm2d,
    LayerNorm,
    LeakyReLU,
    Linear,
    MaxPool2d,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
    Upsample,
    WeightNorm,
)
from .losses import BCEWithLogitsLoss, CrossEntropyLoss, GIoULoss, Loss, MSELoss
from .module import Module
from .optim import SGD, Adam, AdamW, Optimizer
from .recurrent import LSTM, RNN
from .regularization import clip_grad_norm_, clip_grad_value_, l1_penalty, l2_penalty
from .schedules import (
    CosineAnnealingLR,
    LinearLR,
    LRScheduler,
    SequentialLR,
    StepLR,
    cosine_with_warmup,
)

__all__ = [
    "Adam",
    "AdamW",
    "AdaptiveAvgPool2d",
    "Add",
    "AvgPool2d",
    "BCEWithLogitsLoss",
    "BatchLoader",
    "BatchNorm1d",
    "BatchNorm2d",
    "Concat",
    "Conv2d",
    "CosineAnnealingLR",
    "CrossEntropyLoss",
    "Dropout",
    "ELU",
    "Flatten",
    "GIoULoss",
    "GlobalAvgPool2d",
    "GradientCheckError",
    "GroupNorm",
    "Identity",
    "InstanceNorm2d",
    "LRScheduler",
    "LSTM",
    "LayerNorm",
    "LeakyReLU",
    "Linear",
    "LinearLR",
    "Loss",
    "MSELoss",
    "MaxPool2d",
    "Module",
    "Optimizer",
    "RNN",
    "ReLU",
    "Residual",
    "SGD",
    "Sequential",
    "SequentialLR",
    "Sigmoid",
    "Softmax",
    "StepLR",
    "Tanh",
    "Upsample",
    "WeightNorm",
    "calculate_gain",
    "check_layer_gradients",
    "check_loss_gradients",
    "clip_grad_norm_",
    "clip_grad_value_",
    "cosine_with_warmup",
    "count_parameters",
    "kaiming_normal_",
    "kaiming_uniform_",
    "l1_penalty",
    "l2_penalty",
    "log_softmax",
    "multilabel_predict",
    "numerical_gradient",
    "relative_error",
    "sigmoid",
    "softmax",
    "xavier_normal_",
    "xavier_uniform_",
]

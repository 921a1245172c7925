"""The paper's VGG family in PyTorch, named exactly as gradtrace names it, and the h5py code
that loads a gradtrace checkpoint into it.

    import h5py, torch
    from gradtrace_torch import VGG, load_checkpoint
    model = load_checkpoint("init.h5")        # builds the architecture stored in the file
    loss = torch.nn.functional.cross_entropy(model(images), labels)

Architecture (the paper's, as in docs/design.md): stem conv(no bias) -> BN -> act; per stage
`blocks_per_stage` processing blocks conv_0 -> [bn_0] -> act -> conv_1 -> [bn_1] -> (+x) -> act
and one reduction block conv_0 -> [bn_0] -> act -> avgpool 2 -> conv_1 -> [bn_1]
-> (+ 1x1 stride-2 shortcut(x)) -> act; global average pool -> linear.
"""
import json

import h5py
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class Activation(nn.Module):
    def __init__(self, kind):
        super().__init__()
        self.kind = kind

    def forward(self, x):
        if self.kind == "sigmoid":
            return torch.sigmoid(x)
        return F.leaky_relu(x, 0.01)


class Stem(nn.Module):
    def __init__(self, c, filters, act):
        super().__init__()
        self.conv_0 = nn.Conv2d(c, filters, 3, padding=1, bias=False)
        self.bn_0 = nn.BatchNorm2d(filters)
        self.act = Activation(act)

    def forward(self, x):
        return self.act(self.bn_0(self.conv_0(x)))


class Block(nn.Module):
    """Processing (reduction=False) or reduction block."""

    def __init__(self, filters, act, batchnorm, residual, reduction):
        super().__init__()
        self.reduction, self.residual, self.batchnorm = reduction, residual, batchnorm
        self.conv_0 = nn.Conv2d(filters, filters, 3, padding=1, bias=reduction)
        if batchnorm:
            self.bn_0 = nn.BatchNorm2d(filters)
        self.conv_1 = nn.Conv2d(filters, filters, 3, padding=1, bias=reduction)
        if batchnorm:
            self.bn_1 = nn.BatchNorm2d(filters)
        if residual and reduction:
            self.shortcut = nn.Conv2d(filters, filters, 1, stride=2, bias=False)
        self.act = Activation(act)

    def forward(self, x):
        h = self.conv_0(x)
        if self.batchnorm:
            h = self.bn_0(h)
        h = self.act(h)
        if self.reduction:
            h = F.avg_pool2d(h, 2)
        h = self.conv_1(h)
        if self.batchnorm:
            h = self.bn_1(h)
        if self.residual:
            h = h + (self.shortcut(x) if self.reduction else x)
        return self.act(h)


class VGG(nn.Module):
    def __init__(self, numFilters=32, numStages=3, blocksPerStage=0, inputChannels=3,
                 classes=100, batchNorm=False, residual=False, activation="leaky", **_):
        super().__init__()
        self.input_conv = Stem(inputChannels, numFilters, activation)
        self.blocks = []
        for i in range(numStages):
            for j in range(blocksPerStage):
                name = f"block_{i}_{j}"
                setattr(self, name, Block(numFilters, activation, batchNorm, residual, False))
                self.blocks.append(name)
            name = f"reduction_block_{i}"
            setattr(self, name, Block(numFilters, activation, batchNorm, residual, True))
            self.blocks.append(name)
        self.logit_linear_layer = nn.Linear(numFilters, classes)

    def forward(self, x):
        x = self.input_conv(x)
        for name in self.blocks:
            x = getattr(self, name)(x)
        return self.logit_linear_layer(x.mean(dim=(2, 3)))


def load_checkpoint(path, dtype=torch.float32):
    """Builds the model a gradtrace checkpoint describes and loads its weights and buffers."""
    with h5py.File(path, "r") as f:
        description = json.loads(f.attrs["model"])
        model = VGG(**description["configuration"]).to(dtype)
        state = model.state_dict()
        loaded = set()
        for group in ("parameters", "buffers"):
            for name, dataset in f[group].items():
                if name not in state:
                    raise KeyError(f"{path}: /{group}/{name} has no counterpart in the PyTorch model")
                value = torch.from_numpy(np.asarray(dataset)).to(dtype)
                if tuple(value.shape) != tuple(state[name].shape):
                    raise ValueError(f"{path}: /{group}/{name} has shape {tuple(value.shape)}, "
                                     f"PyTorch expects {tuple(state[name].shape)}")
                state[name].copy_(value)
                loaded.add(name)
        missing = [k for k in state if k not in loaded and not k.endswith("num_batches_tracked")]
        if missing:
            raise KeyError(f"{path}: missing {missing[:5]}")
    return model

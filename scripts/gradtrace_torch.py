"""Any gradtrace network in PyTorch, built from its model description with the same module
names, and the h5py code that loads a gradtrace checkpoint into it.

    import torch
    from gradtrace_torch import load_checkpoint
    model = load_checkpoint("init.h5")        # builds the network the file describes
    loss = torch.nn.functional.cross_entropy(model(images), labels)

A description (docs/model-format.md) is a list of layers, each reading earlier outputs; a
checkpoint's `model` attribute holds it under "graph", a model file is one. Layer names are
module paths: `layer1.0.conv1` becomes the module `layer1` → `0` → `conv1`, so the state_dict
keys are gradtrace's parameter names.

Dropout draws its mask exactly as gradtrace does (xoshiro256** seeded through SplitMix64 from
the pass seed and the layer's position): call `model(images, seed=s)` with the seed gradtrace's
pass used (Model.gradient's `seed`, 0 by default) and both sides differentiate the same function.
"""
import json

import h5py
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

MASK64 = (1 << 64) - 1


def _splitmix_mix(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def layer_seed(seed, position):
    """Model.layerSeed: the seed of layer `position`'s draws in a pass seeded with `seed`."""
    return _splitmix_mix((seed + 0x9E3779B97F4A7C15 * (position + 1)) & MASK64)


class SeededGenerator:
    """gradtrace's SeededGenerator: xoshiro256**, seeded through SplitMix64."""

    def __init__(self, seed):
        state, s = [], seed
        for _ in range(4):
            s = (s + 0x9E3779B97F4A7C15) & MASK64
            state.append(_splitmix_mix(s))
        self.s = state

    @staticmethod
    def _rotl(x, k):
        return ((x << k) | (x >> (64 - k))) & MASK64

    def next(self):
        s = self.s
        result = (self._rotl((s[1] * 5) & MASK64, 7) * 9) & MASK64
        t = (s[1] << 17) & MASK64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = self._rotl(s[3], 45)
        return result

    def next_unit(self):
        return (self.next() >> 11) * 2.0 ** -53


class Dropout(nn.Module):
    """Dropout with gradtrace's mask: element i (row-major) is dropped when the i-th uniform of
    the layer's generator is below p; kept ones are scaled by 1/(1 - p)."""

    def __init__(self, p):
        super().__init__()
        self.p = p

    def forward(self, x, seed):
        if not self.training or self.p == 0:
            return x
        generator = SeededGenerator(seed)
        kept = 1 / (1 - self.p)
        mask = [0.0 if generator.next_unit() < self.p else kept for _ in range(x.numel())]
        return x * torch.tensor(mask, dtype=x.dtype).reshape(x.shape)


class SubsamplePad(nn.Module):
    """He et al.'s option-A shortcut: every stride-th pixel, channels zero-padded (half in front)."""

    def __init__(self, stride, out_channels):
        super().__init__()
        self.stride, self.out_channels = stride, out_channels

    def forward(self, x):
        pad = self.out_channels - x.shape[1]
        return F.pad(x[:, :, ::self.stride, ::self.stride], (0, 0, 0, 0, pad // 2, pad - pad // 2))


class Function(nn.Module):
    """A parameter-free layer."""

    def __init__(self, function):
        super().__init__()
        self.function = function

    def forward(self, *inputs):
        return self.function(*inputs)


def _layer(layer, shapes):
    """The PyTorch module for one layer entry and its output shape (one example, no batch axis)."""
    kind, x = layer["kind"], shapes[0]
    if kind == "conv2d":
        k, s, p = layer["kernel"], layer.get("stride", 1), layer.get("padding", 0)
        module = nn.Conv2d(x[0], layer["out_channels"], k, stride=s, padding=p, bias=layer.get("bias", True))
        return module, [layer["out_channels"], (x[1] + 2 * p - k) // s + 1, (x[2] + 2 * p - k) // s + 1]
    if kind == "batchnorm":
        return nn.BatchNorm2d(x[0]), x
    if kind == "linear":
        return nn.Linear(x[0], layer["out_features"], bias=layer.get("bias", True)), [layer["out_features"]]
    if kind == "dropout":
        return Dropout(layer["probability"]), x
    if kind == "subsample_pad":
        s = layer["stride"]
        return SubsamplePad(s, layer["out_channels"]), [layer["out_channels"], -(-x[1] // s), -(-x[2] // s)]
    if kind in ("avgpool", "maxpool"):
        w = layer["window"]
        pool = F.avg_pool2d if kind == "avgpool" else F.max_pool2d
        return Function(lambda t: pool(t, w)), [x[0], x[1] // w, x[2] // w]
    simple = {
        "leaky_relu": (lambda t, slope=layer.get("slope", 0.01): F.leaky_relu(t, slope), x),
        "relu": (F.relu, x),
        "sigmoid": (torch.sigmoid, x),
        "tanh": (torch.tanh, x),
        "global_avgpool": (lambda t: t.mean(dim=(2, 3)), [x[0]]),
        "flatten": (lambda t: t.flatten(1), [int(np.prod(x))]),
        "add": (lambda *ts: sum(ts[1:], ts[0]), x),
        "concat": (lambda *ts: torch.cat(ts, dim=1), [sum(s[0] for s in shapes)] + x[1:]),
    }
    if kind not in simple:
        raise ValueError(f"layer '{layer['name']}': unknown kind '{kind}'")
    function, shape = simple[kind]
    return Function(function), shape


class GraphNet(nn.Module):
    """A gradtrace model description as a PyTorch module."""

    def __init__(self, graph):
        super().__init__()
        self.description = graph
        self.order = []  # (name, module, input names, block, position)
        shapes, previous = {"input": list(graph["input"])}, "input"
        for position, layer in enumerate(graph["layers"]):
            inputs = layer.get("inputs") or [previous]
            module, shapes[layer["name"]] = _layer(layer, [shapes[i] for i in inputs])
            self._register(layer["name"], module)
            self.order.append((layer["name"], module, inputs, layer.get("block"), position))
            previous = layer["name"]

    def _register(self, path, module):
        *parents, leaf = path.split(".")
        owner = self
        for part in parents:
            if part not in owner._modules:
                owner.add_module(part, nn.Module())
            owner = owner._modules[part]
        if leaf in owner._modules:
            raise ValueError(f"layer '{path}': the name is already a module")
        owner.add_module(leaf, module)

    def forward(self, x, seed=0, blocks=None):
        """The logits; `blocks` (a dict), if given, receives each block's output by name."""
        outputs = {"input": x}
        for name, module, inputs, block, position in self.order:
            reads = [outputs[i] for i in inputs]
            if isinstance(module, Dropout):
                outputs[name] = module(reads[0], layer_seed(seed, position))
            else:
                outputs[name] = module(*reads)
            if block is not None and blocks is not None:
                blocks[block] = outputs[name]
        return outputs[name]


def load_checkpoint(path, dtype=torch.float32):
    """Builds the network a gradtrace checkpoint describes and loads its weights and buffers."""
    with h5py.File(path, "r") as f:
        description = json.loads(f.attrs["model"])
        if "graph" not in description:
            raise ValueError(f"{path}: its model attribute has no 'graph' (written before networks were "
                             "descriptions): load it with `gradtrace init`'s or `train`'s output of today")
        model = GraphNet(description["graph"]).to(dtype)
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

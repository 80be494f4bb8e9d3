"""Reversible blocks: one weight layer plus its post-processing, and the rules to run it backwards.

A forward block m (paper eq. 1 and Fig. 1, Tables 1/3/5/7/10) is

    L_{m+1} = geom_m( post_m( op_m(L_m) + b_m ) )

- ``op_m``: ``nn.Linear`` / ``nn.Conv2d`` / ``nn.ConvTranspose2d`` (weights shared with the reverse);
- ``post_m``: the value-range part, in forward order: ``BatchNorm``, activation, dropout;
- ``geom_m``: the resolution part: max/avg pooling or nearest up-sampling.

Its reverse, following the paper's notation ``UP - b_2 -> relu(D(3,64))`` (Table 3), is

    L'_m = post_{m-1}( op_m^T( geom_m^{-1}(L'_{m+1}) - b_m ) )

i.e. undo the pooling / up-sampling first (max-pool <-> nearest 2x up-sampling), subtract the bias,
apply the adjoint of the linear operator with the **same** weight tensor, then apply the BN
parameters and activation **of the previous layer** m-1, so that L'_m lives in the value range of
L_m. For m = 1 there is no previous layer: the caller supplies the input's post (see
``RacecarNet``). BatchNorm in the reverse is the very same module: it shares gamma, beta and the
running statistics, normalises with the reverse tensor's batch statistics in training mode and
updates the shared running statistics (as the authors' code does).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

WEIGHT_LAYERS = (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)
VALUE_LAYERS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.ReLU, nn.LeakyReLU, nn.Tanh, nn.Sigmoid,
                nn.ELU, nn.Identity, nn.Dropout, nn.Dropout2d)
GEOMETRY_LAYERS = (nn.MaxPool2d, nn.AvgPool2d, nn.Upsample)


def _pair(v) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(v)


def adjoint(op: nn.Module, y: torch.Tensor, out_hw: tuple[int, int] | None = None) -> torch.Tensor:
    """Apply the adjoint (transpose) of ``op``'s linear part to ``y``, reusing its weight.

    Linear: ``y @ W`` for W of shape (out, in): (B, out) -> (B, in).
    Conv2d: transposed convolution with the same (out, in/g, kh, kw) kernel: (B, out, h, w) ->
    (B, in, H, W). ``out_hw`` picks the output size when a stride makes it ambiguous.
    ConvTranspose2d: its adjoint is the plain convolution with the same kernel.
    """
    if isinstance(op, nn.Linear):
        return y @ op.weight
    if isinstance(op, nn.Conv2d):
        if op.padding_mode != "zeros":
            raise ValueError(f"{op}: only zero padding has a transposed-convolution adjoint")
        padding = _conv_padding(op)
        output_padding = (0, 0)
        if out_hw is not None:
            stride, dil, k = _pair(op.stride), _pair(op.dilation), op.kernel_size
            output_padding = tuple(
                out_hw[i] - ((y.shape[-2 + i] - 1) * stride[i] - 2 * padding[i]
                             + dil[i] * (k[i] - 1) + 1) for i in range(2))
        return F.conv_transpose2d(y, op.weight, None, op.stride, padding, output_padding,
                                  op.groups, op.dilation)
    if isinstance(op, nn.ConvTranspose2d):
        return F.conv2d(y, op.weight, None, op.stride, op.padding, op.dilation, op.groups)
    raise TypeError(f"no adjoint for {type(op).__name__}")


def _conv_padding(op: nn.Conv2d) -> tuple[int, int]:
    if op.padding == "valid":
        return (0, 0)
    if op.padding == "same":
        if any(s != 1 for s in _pair(op.stride)):
            raise ValueError(f"{op}: padding='same' with stride > 1 is not supported")
        pads = [d * (k - 1) for d, k in zip(_pair(op.dilation), op.kernel_size)]
        if any(p % 2 for p in pads):
            raise ValueError(f"{op}: padding='same' with an even kernel is asymmetric; pad explicitly")
        return tuple(p // 2 for p in pads)
    return _pair(op.padding)


def invert_geometry(layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Reverse of a resolution change: pooling <-> nearest up-sampling (Tables 3, 5, 7, 10)."""
    if isinstance(layer, (nn.MaxPool2d, nn.AvgPool2d)):
        k, s = _pair(layer.kernel_size), _pair(layer.stride or layer.kernel_size)
        if k != s:
            raise ValueError(f"{layer}: only non-overlapping pooling (kernel == stride) is reversible")
        return F.interpolate(x, scale_factor=s, mode="nearest")
    if isinstance(layer, nn.Upsample):
        if layer.mode != "nearest" or layer.scale_factor is None:
            raise ValueError(f"{layer}: only nearest up-sampling with a scale factor is reversible")
        factor = int(layer.scale_factor) if not isinstance(layer.scale_factor, tuple) \
            else int(layer.scale_factor[0])
        return F.max_pool2d(x, factor)
    raise TypeError(f"no inverse for {type(layer).__name__}")


class ReversibleBlock(nn.Module):
    """One weight layer with the layers that follow it up to the next weight layer.

    ``value`` holds BN / activation / dropout in forward order, ``geometry`` holds pooling /
    up-sampling in forward order. The original layer order within the block is kept for the
    forward pass, so an ``nn.Sequential`` such as torchvision VGG's ``features`` runs unchanged.
    """

    def __init__(self, layers: list[nn.Module]):
        super().__init__()
        op, *rest = layers
        if not isinstance(op, WEIGHT_LAYERS):
            raise TypeError(f"a block must start with a weight layer, got {type(op).__name__}")
        for layer in rest:
            if not isinstance(layer, VALUE_LAYERS + GEOMETRY_LAYERS):
                raise TypeError(f"layer {type(layer).__name__} is not supported inside the "
                                "racecar-constrained part; put it in the head")
        self.layers = nn.ModuleList(layers)
        self.op = op
        self._in_hw: tuple[int, int] | None = None
        # only a strided convolution needs the input size to pick its adjoint's output size
        self._track_hw = isinstance(op, nn.Conv2d) and _pair(op.stride) != (1, 1)

    @property
    def bias(self) -> torch.Tensor | None:
        return self.op.bias

    @property
    def value_layers(self) -> list[nn.Module]:
        return [m for m in self.layers[1:] if isinstance(m, VALUE_LAYERS)]

    @property
    def geometry_layers(self) -> list[nn.Module]:
        return [m for m in self.layers[1:] if isinstance(m, GEOMETRY_LAYERS)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._track_hw:
            self.__dict__["_in_hw"] = tuple(x.shape[-2:])  # plain attribute, no Module.__setattr__
        for layer in self.layers:
            x = layer(x)
        return x

    def apply_value(self, x: torch.Tensor) -> torch.Tensor:
        """This block's BN and activation (dropout skipped): the reverse's ``post_{m-1}``."""
        for layer in self.value_layers:
            if not isinstance(layer, (nn.Dropout, nn.Dropout2d)):
                x = layer(x)
        return x

    def reverse_linear(self, y: torch.Tensor) -> torch.Tensor:
        """``op_m^T( geom_m^{-1}(y) - b_m )``, before the previous layer's post is applied."""
        for layer in reversed(self.geometry_layers):
            y = invert_geometry(layer, y)
        if self.bias is not None:
            shape = (1, -1) + (1,) * (y.dim() - 2)
            y = y - self.bias.view(shape)
        return adjoint(self.op, y, self._in_hw if isinstance(self.op, nn.Conv2d) else None)


def split_blocks(layers: list[nn.Module]) -> list[ReversibleBlock]:
    """Group a flat layer list into blocks, each starting at a weight layer."""
    layers = list(layers)
    if not layers or not isinstance(layers[0], WEIGHT_LAYERS):
        first = type(layers[0]).__name__ if layers else "nothing"
        raise TypeError(f"the constrained part must start with Linear/Conv2d, got {first}")
    groups: list[list[nn.Module]] = []
    for layer in layers:
        if isinstance(layer, WEIGHT_LAYERS):
            groups.append([layer])
        else:
            groups[-1].append(layer)
    return [ReversibleBlock(g) for g in groups]

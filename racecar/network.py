"""``RacecarNet``: declare a network once, get the forward pass and its weight-sharing reverse pass.

    net = RacecarNet(nn.Sequential(nn.Linear(12, 10), nn.Tanh(), ..., nn.Linear(3, 2), nn.Tanh()))
    fwd = net(x)                     # ForwardPass(output, states=[L_1..L_n], top=I_r)
    rec = net.reverse(fwd.top)       # [L'_1..L'_n], one chain from I_r down to the input

The constrained part (``body``) is a flat sequence of standard layers that starts with a weight
layer; everything after ``I_r`` (a classifier head, a final max-pool as in Table 10) goes in
``head``, which the reverse pass never touches. Phase II simply uses ``fwd.output`` and ignores
the states: the forward structure is the plain network.
"""
from __future__ import annotations

import copy
from typing import Iterable, NamedTuple

import torch
from torch import nn

from racecar.reversible import GEOMETRY_LAYERS, WEIGHT_LAYERS, split_blocks

ACTIVATIONS = (nn.ReLU, nn.LeakyReLU, nn.Tanh, nn.Sigmoid, nn.ELU)


class ForwardPass(NamedTuple):
    output: torch.Tensor        # head(I_r), e.g. logits (B, classes)
    states: list[torch.Tensor]  # L_1..L_n: the input of every constrained weight layer
    top: torch.Tensor           # I_r: the output of the last constrained layer


class RacecarNet(nn.Module):
    """A network whose first ``n`` weight layers carry a racecar reverse pass.

    ``input_post`` is what the reverse applies after the first layer's transpose to produce the
    regenerated input I' (there is no "layer 0" to borrow BN and activation from):
    ``"auto"`` reuses the first block's activation (tanh in Table 1, relu in Tables 3, 7, 10),
    ``None`` leaves I' linear, or pass a module such as ``nn.Sequential(nn.BatchNorm2d(3),
    nn.ReLU())`` for Table 5's ``relu(BN(D(3,3)))``; its parameters belong to the reverse only.
    """

    def __init__(self, body: Iterable[nn.Module], head: nn.Module | None = None,
                 input_post: str | nn.Module | None = "auto"):
        super().__init__()
        self.blocks = nn.ModuleList(split_blocks(list(body)))
        self.head = head if head is not None else nn.Identity()
        if input_post == "auto":
            acts = [copy.deepcopy(m) for m in self.blocks[0].value_layers if isinstance(m, ACTIVATIONS)]
            input_post = nn.Sequential(*acts)
        self.input_post = input_post if input_post is not None else nn.Identity()

    @classmethod
    def from_layers(cls, layers: Iterable[nn.Module], n_blocks: int | None = None,
                    head: nn.Module | None = None, input_post: str | nn.Module | None = "auto"):
        """Wrap a plain layer sequence (e.g. ``torchvision.models.vgg19().features``) unchanged.

        The first ``n_blocks`` weight layers with their BN / activation are constrained; any layer
        after the n-th block's activation (a trailing pool, further layers) is prepended to
        ``head``, which is how Table 10 places VGG19's last max-pool after I_r.
        """
        layers = list(layers)
        weight_at = [i for i, m in enumerate(layers) if isinstance(m, WEIGHT_LAYERS)]
        n_blocks = len(weight_at) if n_blocks is None else n_blocks
        if not 1 <= n_blocks <= len(weight_at):
            raise ValueError(f"n_blocks={n_blocks}: the sequence has {len(weight_at)} weight layers")
        end = weight_at[n_blocks] if n_blocks < len(weight_at) else len(layers)
        while end > weight_at[n_blocks - 1] + 1 and isinstance(layers[end - 1], GEOMETRY_LAYERS):
            end -= 1  # I_r is taken before the trailing resolution change
        rest = layers[end:] + ([head] if head is not None else [])
        return cls(layers[:end], nn.Sequential(*rest) if rest else None, input_post)

    @property
    def n_layers(self) -> int:
        """n in eq. 1: the number of constrained layer inputs L_1..L_n."""
        return len(self.blocks)

    def forward(self, x: torch.Tensor) -> ForwardPass:
        states = []
        for block in self.blocks:
            states.append(x)   # L_m, e.g. (B, C_m, H_m, W_m)
            x = block.forward(x)  # direct call: skips a Module.__call__ per block (hooks go on layers)
        output = x if isinstance(self.head, nn.Identity) else self.head(x)
        return ForwardPass(output, states, x)

    def reverse(self, top: torch.Tensor) -> list[torch.Tensor]:
        """The reverse chain from I_r: returns [L'_1, ..., L'_n], L'_m shaped like L_m."""
        regenerated: list[torch.Tensor] = [top] * self.n_layers
        y = top
        for m in reversed(range(self.n_layers)):
            y = self.blocks[m].reverse_linear(y)
            y = self.blocks[m - 1].apply_value(y) if m > 0 else self.input_post(y)
            regenerated[m] = y
        return regenerated

    def reverse_parameters(self) -> list[nn.Parameter]:
        """Parameters used only by the reverse pass (Table 5's input BN): phase II drops them."""
        return list(self.input_post.parameters())

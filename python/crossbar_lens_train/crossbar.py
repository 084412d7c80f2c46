"""Crossbar geometry, discrete sparsity levels and the paper's ADC-energy law (docs/method.md §1-§3, §5.2).

Layout convention (as the TypeScript side: WeightMatrix and toMatrix in src/hardware/matrix.ts, the grid in
src/hardware/geometry.ts): the reference's matrix M = W.flatten(1), O x K, row o = output channel o = one
crossbar column (bit line); a crossbar holds R = T/q output channels x T inputs, anchored at the top-left,
truncated at the edges.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn


@dataclass(frozen=True)
class CrossbarGeometry:
    """Crossbar size T, slices q, R = floor(T/q) output channels per crossbar, B = ceil(log2 T) + 2 bins."""

    crossbar_size: int
    slices: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.crossbar_size, int) or self.crossbar_size < 2:
            raise ValueError(f"crossbar size must be an integer >= 2, got {self.crossbar_size!r}")
        if not isinstance(self.slices, int) or not 1 <= self.slices <= self.crossbar_size:
            raise ValueError(f"slices per weight must be an integer in 1..{self.crossbar_size}, got {self.slices!r}")

    @property
    def channels_per_crossbar(self) -> int:
        return self.crossbar_size // self.slices

    @property
    def bins(self) -> int:
        return int(math.ceil(math.log2(self.crossbar_size))) + 2

    @property
    def dense_bits(self) -> int:
        return int(math.ceil(math.log2(self.crossbar_size)))

    def edges(self) -> List[float]:
        """Reference bin edges as Python floats: [1 - 2**-k for k in range(B)] + [1.0]."""
        return [1 - 2 ** (-k) for k in range(self.bins)] + [1.0]


def as_matrix(weight: torch.Tensor) -> torch.Tensor:
    """M = W.flatten(1): (O, C*Kh*Kw), inputs c-major then kh then kw (PyTorch order, §1)."""
    return weight.reshape(weight.shape[0], -1)


def levels_from_counts(lsc_non_zeros: np.ndarray, column_length: np.ndarray, bins: int) -> np.ndarray:
    """Level k of each crossbar from its LSC non-zero count and column length (rule A17): B-1 for an all-zero
    LSC, else the largest k <= B-2 with N*2^k <= n_b."""
    n = np.asarray(lsc_non_zeros, dtype=np.int64)
    length = np.broadcast_to(np.asarray(column_length, dtype=np.int64), n.shape)
    k = np.zeros(n.shape, dtype=np.int64)
    for step in range(1, bins - 1):
        k += (n * (2 ** step) <= length) & (n > 0)
    return np.where(n == 0, bins - 1, k)


def bits_for_level(level: int, geometry: CrossbarGeometry) -> int:
    """ADC bits of a crossbar at level k under the paper law (§5.2): log2 T - k, 0 at k >= B-2."""
    if level >= geometry.bins - 1:
        return 0
    return max(geometry.dense_bits - level, 0)


def crossbar_levels(weight: torch.Tensor, geometry: CrossbarGeometry, tol: float = 0.0) -> np.ndarray:
    """Per-crossbar level k, shape (input blocks, channel groups), from exact zeros (tol = 0) or |w| <= tol.

    Flattened, index block * channel_groups + group: the order of every per-crossbar array (docs/method.md §2).
    """
    m = as_matrix(weight.detach()).to(torch.float32).cpu()
    o, k_in = m.shape
    r, t = geometry.channels_per_crossbar, geometry.crossbar_size
    groups, blocks = -(-o // r), -(-k_in // t)
    nz = (m.abs() > tol) if tol > 0 else (m != 0)
    # Pad to the grid with zeros (padded entries are never non-zero, so they never change a count).
    padded = torch.zeros(groups * r, blocks * t, dtype=torch.int32)
    padded[:o, :k_in] = nz.to(torch.int32)
    per_column = padded.view(groups * r, blocks, t).sum(dim=2)  # (O_pad, blocks)
    lsc = per_column.view(groups, r, blocks).amax(dim=1).T.numpy()  # (blocks, groups)
    lengths = np.minimum(t, k_in - np.arange(blocks) * t)[:, None]
    return levels_from_counts(lsc, lengths, geometry.bins)


def level_histogram(levels: Iterable[np.ndarray], geometry: CrossbarGeometry) -> List[int]:
    hist = np.zeros(geometry.bins, dtype=np.int64)
    for lv in levels:
        hist += np.bincount(np.asarray(lv).ravel(), minlength=geometry.bins)[: geometry.bins]
    return [int(v) for v in hist]


def improvement_from_histogram(histogram: Sequence[int], geometry: CrossbarGeometry) -> Optional[float]:
    """ADC-energy improvement, paper law (§5.2): sum of log2 T over crossbars / sum of bits; None when no bits are left."""
    dense = sum(histogram) * geometry.dense_bits
    spent = sum(n * bits_for_level(k, geometry) for k, n in enumerate(histogram))
    if spent == 0:
        return None
    return dense / spent


def conv_layers(model: nn.Module) -> List[Tuple[str, nn.Conv2d]]:
    """Every nn.Conv2d in module order (docs/method.md §2.5), with its qualified name (DDP wrappers unwrapped)."""
    inner = getattr(model, "module", model) if isinstance(model, nn.parallel.DistributedDataParallel) else model
    return [(name, m) for name, m in inner.named_modules() if isinstance(m, nn.Conv2d)]


def model_histogram(model: nn.Module, geometry: CrossbarGeometry) -> Tuple[List[int], Optional[float]]:
    """Level histogram over all conv crossbars (exact zeros) and the paper-law improvement."""
    levels = [crossbar_levels(m.weight, geometry) for _, m in conv_layers(model)]
    hist = level_histogram(levels, geometry)
    return hist, improvement_from_histogram(hist, geometry)

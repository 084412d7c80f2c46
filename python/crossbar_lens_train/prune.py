"""Post-training D.U.B. pruning (docs/method.md §6), the unstructured per-layer baseline (§8.2) and the
whole-crossbar baseline `tiles` (§8.4, part S of S-DUB).

Same numbers as src/pruning (TypeScript) and the reference (REPO:c1_Hoyer_and_variance_class.py):
 - thresholds from numpy's linear percentile on the float32 |W|, compared in float32 (torch rounds
   the Python float to the tensor's dtype), `<=` so ties at a threshold are all pruned;
 - levels from integer counts (rule A17), forced/loosened from the exact integer test
   s >= mid  <=>  N_LSC * 2^(k+2) <= 3 * n_b;
 - per column tau_o = np.percentile(|crossbar[o, :]|, 100 * q*), called exactly as the reference calls it
   (`bins[k] * 100.0`), vectorised over all columns that share a block and q*;
 - k = B-1: the crossbar is zeroed; k = B-2: fixed variant keeps one weight per column, tol variant
   zeroes the crossbar; q* = 0 (loosening into level 0) prunes each column's minimum unless skip_q0.
Pruning only ever writes zeros into the weights; masks = (W == 0) after pruning.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import nn

from .crossbar import CrossbarGeometry, conv_layers, crossbar_levels, levels_from_counts

# ---- §6.2 ratio presets (copied verbatim; same ids as src/pruning/ratios.ts) ---------------------

_VGG11_CIFAR_SHAPES = [(64, 3, 3, 3), (128, 64, 3, 3), (256, 128, 3, 3), (256, 256, 3, 3),
                       (512, 256, 3, 3), (512, 512, 3, 3), (512, 512, 3, 3), (512, 512, 3, 3)]
_RESNET18_SHAPES = [(64, 3, 7, 7),
                    (64, 64, 3, 3), (64, 64, 3, 3), (64, 64, 3, 3), (64, 64, 3, 3),
                    (128, 64, 3, 3), (128, 128, 3, 3), (128, 64, 1, 1), (128, 128, 3, 3), (128, 128, 3, 3),
                    (256, 128, 3, 3), (256, 256, 3, 3), (256, 128, 1, 1), (256, 256, 3, 3), (256, 256, 3, 3),
                    (512, 256, 3, 3), (512, 512, 3, 3), (512, 256, 1, 1), (512, 512, 3, 3), (512, 512, 3, 3)]


@dataclass(frozen=True)
class RatioPreset:
    id: str
    description: str
    ratios: Tuple[float, ...]
    shapes: Tuple[Tuple[int, ...], ...]


# models.FashionCNN: seven 3x3 convs, 16 -> 128 channels, on 28x28x1 images.
_FASHION_CNN_SHAPES = [(16, 1, 3, 3), (32, 16, 3, 3), (32, 32, 3, 3), (64, 32, 3, 3), (64, 64, 3, 3), (128, 64, 3, 3),
                       (128, 128, 3, 3)]

PRESETS: Dict[str, RatioPreset] = {p.id: p for p in [
    RatioPreset("vgg11-cifar10", 'VGG11 / CIFAR-10, "prs A": every final DUB, Group Lasso+DB and S-DUB run',
                (2.37, 70, 75, 75, 90, 98.67, 99.84, 99.86), tuple(_VGG11_CIFAR_SHAPES)),
    RatioPreset("vgg11-cifar10-lbl", "VGG11 / CIFAR-10, prs A as the LBL runs use it (2.38 for layer 0)",
                (2.38, 70, 75, 75, 90, 98.67, 99.84, 99.86), tuple(_VGG11_CIFAR_SHAPES)),
    RatioPreset("vgg11-cifar10-prs-b", 'VGG11 / CIFAR-10, "prs B" (LBL runs only)',
                (50, 75, 75, 70, 90, 95, 99, 99.5), tuple(_VGG11_CIFAR_SHAPES)),
    RatioPreset("vgg11-cifar10-prs-c", 'VGG11 / CIFAR-10, "prs C" (T=64 runs of Dec 2020)',
                (2.37, 11.83, 48.92, 48.23, 89.92, 98.67, 99.84, 99.86), tuple(_VGG11_CIFAR_SHAPES)),
    RatioPreset("fashion-cnn", "FashionCNN / Fashion-MNIST at T=32: the ratios of repro-fashion (chosen on a validation split)",
                (0, 70, 80, 90, 97, 99, 99.7), tuple(_FASHION_CNN_SHAPES)),
    RatioPreset("resnet18-imagenet", "torchvision ResNet18 / ImageNet: DUB, Group Lasso+DB and LBL runs",
                (60, 60, 70, 55, 60, 60, 60, 50, 65, 65, 70, 70, 85, 75, 75, 65, 75, 70, 75, 75),
                tuple(_RESNET18_SHAPES)),
]}


class PruneSpecError(ValueError):
    """A ratio specification that does not fit the model (one line, names the layer)."""


RatioSpec = Union[str, float, Sequence[float]]


def parse_ratio_spec(text: str) -> RatioSpec:
    """'vgg11-cifar10' -> preset id; '50' -> one ratio for all; '2.37,70,75' -> one per conv layer."""
    text = text.strip()
    if text in PRESETS:
        return text
    try:
        values = [float(v) for v in text.split(",") if v.strip() != ""]
    except ValueError:
        raise PruneSpecError(f"--ratios: '{text}' is neither a preset ({', '.join(PRESETS)}) nor numbers separated by commas") from None
    if not values:
        raise PruneSpecError("--ratios: empty")
    return values[0] if len(values) == 1 and "," not in text else values


def resolve_ratios(layers: Sequence[Tuple[str, Tuple[int, ...]]], spec: RatioSpec) -> List[float]:
    """One ratio (percent) per conv layer; presets also check the layer count and every OIHW shape."""
    if not layers:
        raise PruneSpecError("the model has no convolution layers to prune")
    names = [n for n, _ in layers]
    if isinstance(spec, str):
        preset = PRESETS.get(spec)
        if preset is None:
            raise PruneSpecError(f"unknown ratio preset '{spec}'; known: {', '.join(PRESETS)}")
        for i, ((name, shape), want) in enumerate(zip(layers, preset.shapes)):
            if tuple(shape) != tuple(want):
                raise PruneSpecError(f"preset '{spec}' does not fit: conv layer #{i} '{name}' has shape {tuple(shape)}, the preset expects {tuple(want)}")
        if len(layers) != len(preset.ratios):
            raise PruneSpecError(f"preset '{spec}' has {len(preset.ratios)} ratios but the model has {len(layers)} conv layers")
        ratios = list(preset.ratios)
    elif isinstance(spec, (int, float)):
        ratios = [float(spec)] * len(layers)
    else:
        ratios = [float(r) for r in spec]
        if len(ratios) != len(layers):
            raise PruneSpecError(f"got {len(ratios)} prune ratios for {len(layers)} conv layers ({', '.join(names)})")
    for name, r in zip(names, ratios):
        if not 0 <= r <= 100:
            raise PruneSpecError(f"the prune ratio for {name} must be a percentage in [0, 100], got {r}")
    return ratios


# ---- one matrix -----------------------------------------------------------------------------------

@dataclass
class LayerPruneReport:
    name: str
    ratio: Optional[float]
    threshold: float
    level_before: np.ndarray  # per crossbar (input blocks, channel groups), from almost-zeros (|w| <= theta), the level the decision used
    action: np.ndarray  # per crossbar, the same shape: 0 untouched, 1 zeroed, 2 kept one, 3 forced, 4 loosened, 5 skipped (q*=0)
    zeros: int = 0
    weights: int = 0


ACTIONS = ("untouched", "zeroed", "keptOne", "forced", "loosened", "skipped")


def _dtype_scalar(value: float, dtype: np.dtype) -> np.floating:
    # torch compares a tensor with a Python float in the tensor's dtype (float32 for weights).
    return np.asarray(value, dtype=np.float64).astype(dtype)[()]


def dub_prune_matrix(m: np.ndarray, theta: float, geometry: CrossbarGeometry, *, variant: str = "fixed",
                     skip_q0: bool = False) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """D.U.B. prune of one matrix M (O, K) at almost-zero threshold theta (§6).

    Returns (pruned copy, level_before and action per crossbar, each (input blocks, channel groups)).
    variant 'fixed': k = B-2 keeps one per column (headline); 'tol': k = B-2 zeroes the crossbar;
    'tiles': only the k = B-1 case, whole crossbars at or below theta are zeroed (part S of S-DUB, §8.4).
    """
    if variant not in ("fixed", "tol", "tiles"):
        raise ValueError(f"unknown D.U.B. variant {variant!r}")
    o, k_in = m.shape
    t, r, bins = geometry.crossbar_size, geometry.channels_per_crossbar, geometry.bins
    groups, blocks = -(-o // r), -(-k_in // t)
    edges = geometry.edges()
    a = np.abs(m)
    out = m.copy()
    th = _dtype_scalar(theta, a.dtype)
    row_starts = np.arange(0, o, r)
    level_before = np.zeros((blocks, groups), dtype=np.int64)
    action = np.zeros((blocks, groups), dtype=np.int64)
    for b in range(blocks):
        k0, k1 = b * t, min(k_in, (b + 1) * t)
        n = k1 - k0
        block = a[:, k0:k1]
        z = (block <= th).sum(axis=1)  # almost-zeros per column
        z_min = np.minimum.reduceat(z, row_starts)  # least-sparse column per crossbar (truncated ones too)
        lsc = n - z_min
        k = levels_from_counts(lsc, n, bins)
        level_before[b] = k
        quantile = np.full(groups, -1.0)
        for g in range(groups):
            kt = int(k[g])
            if kt == bins - 1:
                action[b, g] = 1
            elif variant == "tiles":
                continue
            elif kt == bins - 2:
                if variant == "tol":
                    action[b, g] = 1
                else:
                    action[b, g] = 2
                    quantile[g] = edges[bins - 2]
            else:
                if int(lsc[g]) * 2 ** (kt + 2) <= 3 * n:  # s >= mid(e_k, e_{k+1})
                    action[b, g] = 3
                    quantile[g] = edges[kt + 1]
                else:
                    action[b, g] = 4
                    quantile[g] = edges[kt]
                if quantile[g] == 0 and skip_q0:
                    action[b, g] = 5
                    quantile[g] = -1.0
        for g in np.nonzero(action[b] == 1)[0]:
            out[g * r:(g + 1) * r, k0:k1] = 0
        for q in np.unique(quantile[quantile >= 0]):
            at_q = np.nonzero(quantile == q)[0]
            sel = np.concatenate([np.arange(g * r, min(o, (g + 1) * r)) for g in at_q])
            cols_abs = block[sel]
            # The reference: np.percentile(tile[k].cpu(), bins[bin_idx] * 100.0), column by column.
            tau = np.percentile(cols_abs, float(q) * 100.0, axis=1).astype(cols_abs.dtype)
            prune = cols_abs <= tau[:, None]
            sub = out[sel, k0:k1]
            sub[prune] = 0
            out[sel, k0:k1] = sub
    # masked_fill writes +0.0
    out[out == 0] = 0
    return out, level_before, action


def unstructured_prune_array(w: np.ndarray, ratio: float) -> Tuple[np.ndarray, float]:
    """Zero every |w| <= percentile(|W|, ratio) (§8.2, REPO:c0_LBL_prune_class.py); returns (copy, theta)."""
    theta = layer_threshold(w, ratio)
    out = w.copy()
    out[np.abs(out) <= _dtype_scalar(theta, out.dtype)] = 0
    out[out == 0] = 0
    return out, theta


def layer_threshold(w: np.ndarray, ratio: float) -> float:
    """theta_l = np.percentile(|W_l|, p_l), numpy linear interpolation (float64 result)."""
    return float(np.percentile(np.abs(w).reshape(-1), ratio))


# ---- a model ----------------------------------------------------------------------------------------

@dataclass
class PruneResult:
    masks: Dict[str, torch.Tensor]  # conv module name -> bool mask (True = pruned, = (W == 0))
    layers: List[LayerPruneReport] = field(default_factory=list)

    def summary(self) -> Dict[str, object]:
        return {"layers": [{"name": lr.name, "ratio": lr.ratio, "threshold": lr.threshold, "zeros": lr.zeros,
                            "weights": lr.weights,
                            "actions": {ACTIONS[i]: int((lr.action == i).sum()) for i in range(len(ACTIONS))
                                        if lr.action.size and (lr.action == i).any()}}
                           for lr in self.layers]}


def prune_tensors(weights: Mapping[str, torch.Tensor], spec: RatioSpec, geometry: CrossbarGeometry, *,
                  method: str = "dub", skip_q0: bool = False, tol: float = 1e-3) -> PruneResult:
    """Prunes conv weights (OIHW tensors, in module order) in place. method: dub | dub-tol | unstructured | tiles."""
    names = list(weights)
    ratios: List[Optional[float]]
    if method == "dub-tol":
        ratios = [None] * len(names)
    else:
        ratios = list(resolve_ratios([(n, tuple(weights[n].shape)) for n in names], spec))
    result = PruneResult(masks={})
    for name, ratio in zip(names, ratios):
        w = weights[name]
        with torch.no_grad():
            arr = w.detach().cpu().numpy()
            m = arr.reshape(arr.shape[0], -1)
            if method == "unstructured":
                assert ratio is not None
                pruned, theta = unstructured_prune_array(m, ratio)
                lv = crossbar_levels(torch.from_numpy(m), geometry, tol=theta)
                act = np.zeros_like(lv)
            elif method in ("dub", "dub-tol", "tiles"):
                theta = tol if ratio is None else layer_threshold(m, ratio)
                variant = "tiles" if method == "tiles" else "tol" if ratio is None else "fixed"
                pruned, lv, act = dub_prune_matrix(m, theta, geometry, variant=variant, skip_q0=skip_q0)
            else:
                raise ValueError(f"unknown prune method {method!r}")
            mask = torch.from_numpy(pruned.reshape(arr.shape) == 0).to(w.device)
            w.masked_fill_(mask, 0.0)
        result.masks[name] = mask
        result.layers.append(LayerPruneReport(name=name, ratio=ratio, threshold=theta, level_before=lv, action=act,
                                              zeros=int(mask.sum()), weights=mask.numel()))
    return result


def prune_model(model: nn.Module, spec: RatioSpec, geometry: CrossbarGeometry, *, method: str = "dub",
                skip_q0: bool = False, tol: float = 1e-3) -> PruneResult:
    """Prunes every nn.Conv2d of `model` in place (module order) and returns the masks (W == 0)."""
    weights = {name: m.weight for name, m in conv_layers(model)}
    return prune_tensors(weights, spec, geometry, method=method, skip_q0=skip_q0, tol=tol)


def apply_masks(model: nn.Module, masks: Mapping[str, torch.Tensor]) -> None:
    """Re-zeroes masked weights (after every optimizer step of the masked fine-tune, §7)."""
    with torch.no_grad():
        for name, m in conv_layers(model):
            mask = masks.get(name)
            if mask is not None:
                m.weight.masked_fill_(mask, 0.0)

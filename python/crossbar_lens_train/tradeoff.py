"""The accuracy-ADC-energy trade-off sweep (`tradeoff` subcommand): one-shot pruning, no training.

For each sweep ratio r (ascending) and each method (dub, unstructured), the conv weights are set back
to the checkpoint's values, pruned by prune.py exactly as the fine-tune prunes (the same masks as the
TypeScript pruner, checked weight for weight by test/interop/training/pruneCrossCheck.test.ts), and the
model is evaluated on the held-out split a fine-tune with the same data and --split-seed uses. Every
conv layer gets r, or with --preset layer i gets preset_i * r / 100 (the product src/training/tradeoffPlan.ts
computes). Events (JSON lines, python/README.md): start, dense, point (one per ratio and method), done;
stopped after SIGTERM/SIGINT (nothing to save: the sweep ends at once); error.

Only the paper-law figures need nothing but the level histogram; the TypeScript side computes the
improvement under any law from the `levelHistogram` of each point.
"""
from __future__ import annotations

import math
import signal
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn

from .crossbar import CrossbarGeometry, conv_layers, model_histogram
from .data import Splits, Transform
from .pipeline import DistContext, evaluate_model
from .prune import PruneSpecError, prune_model, resolve_ratios

METHODS = ("dub", "unstructured")


class StopSweep(Exception):
    """Raised from the SIGTERM/SIGINT handler: the sweep ends where it is."""


def parse_sweep(text: str, preset: bool) -> List[float]:
    """'0,30,50' -> [0.0, 30.0, 50.0]: ascending, each once, in [0, 100) (up to 100 along a preset)."""
    try:
        values = [float(v) for v in text.replace(" ", ",").split(",") if v.strip()]
    except ValueError:
        raise PruneSpecError(f"--sweep: '{text}' is not percentages separated by commas") from None
    if not values:
        raise PruneSpecError("--sweep: empty")
    top = 100.0
    for v in values:
        if not (math.isfinite(v) and 0 <= v <= top and (preset or v < top)):
            raise PruneSpecError(f"--sweep: {v:g} is outside [0, 100{']' if preset else ')'}")
    if len(set(values)) != len(values):
        raise PruneSpecError("--sweep: a ratio is given twice")
    return sorted(values)


def parse_methods(text: str) -> List[str]:
    methods = [m for m in text.replace(" ", ",").split(",") if m]
    if not methods or any(m not in METHODS for m in methods) or len(set(methods)) != len(methods):
        raise PruneSpecError(f"--methods: '{text}'; the methods are {' and '.join(METHODS)}, each at most once")
    return methods


def layer_ratios(layers: Sequence[Tuple[str, Tuple[int, ...]]], ratio: float, preset: Optional[str]) -> List[float]:
    """Per conv layer: `ratio`, or preset_i * ratio / 100 (presets checked against the shapes)."""
    if preset is None:
        return resolve_ratios(layers, float(ratio))
    return [p * ratio / 100 for p in resolve_ratios(layers, preset)]


def measure(model: nn.Module, splits: Splits, transform: Transform, ctx: DistContext, geometry: CrossbarGeometry) -> Dict[str, Any]:
    """Held-out accuracy (percent), the conv crossbars' level histogram and the exact zeros of the conv weights."""
    accuracy, _ = evaluate_model(model, splits.test, transform, ctx)
    histogram, _ = model_histogram(model, geometry)
    convs = [m.weight for _, m in conv_layers(model)]
    return {"accuracy": accuracy, "levelHistogram": histogram,
            "zeros": sum(int((w == 0).sum()) for w in convs), "weights": sum(w.numel() for w in convs)}


def run_sweep(model: nn.Module, splits: Splits, transform: Transform, ctx: DistContext, geometry: CrossbarGeometry,
              sweep: Sequence[float], methods: Sequence[str], preset: Optional[str],
              emit: Callable[..., None]) -> None:
    """Emits `dense`, then one `point` per (ratio, method); the model ends with its starting weights."""
    layers = [(n, tuple(m.weight.shape)) for n, m in conv_layers(model)]
    # Every point's ratios are checked (a preset against the shapes) before the first evaluation.
    plans = {r: layer_ratios(layers, r, preset) for r in sweep}
    starting = {n: m.weight.detach().clone() for n, m in conv_layers(model)}
    emit("dense", **measure(model, splits, transform, ctx, geometry))
    try:
        for ratio in sweep:
            for method in methods:
                with torch.no_grad():
                    for name, m in conv_layers(model):
                        m.weight.copy_(starting[name])
                prune_model(model, plans[ratio], geometry, method=method)
                emit("point", method=method, ratio=ratio, layerRatios=plans[ratio],
                     **measure(model, splits, transform, ctx, geometry))
    finally:
        with torch.no_grad():
            for name, m in conv_layers(model):
                m.weight.copy_(starting[name])


def install_stop_handlers() -> None:
    """SIGTERM/SIGINT end the sweep at once (between two torch ops): there is nothing to save."""
    def handler(signum: int, _frame: Any) -> None:
        raise StopSweep(signum)
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


"""The gated Hoyer-variance D.U.B. regularizer with its closed-form gradient (docs/method.md §4.1-§4.2).

Per conv layer, M = W.flatten(1) is cut into column segments of T inputs; each segment has the
Hoyer-Square value h = S1^2 / (S2 + eps) (S1 = sum |w|, S2 = sum w^2, eps = 1e-6). The R = T/q values
of one crossbar enter an unbiased variance; the loss is lambda * sum over crossbars and layers.
Output channels padded at the bottom of the last channel group count with h = 0 (A4, the reference's
F.pad); `exclude_padded=True` runs the variance over the real channels only.

The reference back-propagates through a gate that keeps only strictly positive dL/dh
(REPO:c1_Hoyer_and_variance_class.py:gradient_gate), so the gradient reaching h[o, b] is
g = lambda * 2 * max(h - mean_t, 0) / (R - 1), and with dh/dw = 2 S1 sign(w)/S2' - 2 S1^2 w/S2'^2
(S2' = S2 + eps) the weight gradient is a few elementwise passes, no autograd graph. It is added to
`p.grad` after `loss.backward()` (and after DDP's all-reduce: it is identical on every rank).
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any, Iterable, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import nn

from .crossbar import CrossbarGeometry, conv_layers

HOYER_EPSILON = 1e-6


def _segments(m: torch.Tensor, crossbar_size: int) -> torch.Tensor:
    """(O, K) -> (O, ceil(K/T), T), zero-padded on the right (the reference pads inputs with 0)."""
    o, k = m.shape
    pad = (-k) % crossbar_size
    if pad:
        m = F.pad(m, (0, pad))
    return m.view(o, -1, crossbar_size)


def hoyer_square(segments: torch.Tensor, epsilon: float = HOYER_EPSILON) -> torch.Tensor:
    """h = S1^2 / (S2 + eps) over the last dimension; 0 for an all-zero segment."""
    s1 = segments.abs().sum(dim=-1)
    s2 = segments.square().sum(dim=-1) + epsilon
    return s1.square() / s2


def hoyer_square_gradient(segments: torch.Tensor, epsilon: float = HOYER_EPSILON) -> torch.Tensor:
    """dh/dw over the last dimension: 2 S1 sign(w)/S2' - 2 S1^2 w/S2'^2, S2' = S2 + eps, sign(0) = 0."""
    s1 = segments.abs().sum(dim=-1, keepdim=True)
    s2 = segments.square().sum(dim=-1, keepdim=True) + epsilon
    return 2.0 * s1 * segments.sign() / s2 - 2.0 * s1.square() * segments / s2.square()


def _crossbar_stats(h: torch.Tensor, r: int, exclude_padded: bool) -> Tuple[torch.Tensor, torch.Tensor, Union[torch.Tensor, float]]:
    """Mean and unbiased variance of h (O, blocks) over each crossbar's R channels.

    Returns the crossbar mean per channel (O, blocks), the variance per crossbar (groups, blocks)
    (channel groups x input blocks) and the channel count n_t entering each crossbar's
    statistics: R (a number), or with `exclude_padded` per channel (O, 1) the real channels of the
    last, partial channel group. A crossbar with n_t = 1 has variance 0 (the reference would give NaN).
    """
    o, blocks = h.shape
    groups = -(-o // r)
    pad = groups * r - o
    grouped = (F.pad(h, (0, 0, 0, pad)) if pad else h).view(groups, r, blocks)
    if not (exclude_padded and pad):
        # Every crossbar counts R channels (padded ones with h = 0): a few fused reductions, no masks,
        # which matters on a GPU, where this runs as a handful of small kernels per layer.
        mean = grouped.mean(dim=1, keepdim=True)
        var = grouped.var(dim=1, keepdim=True) if r > 1 else torch.zeros_like(mean)
        mean_per_channel = mean.expand(groups, r, blocks).reshape(groups * r, blocks)[:o]
        return mean_per_channel, var.view(groups, blocks), float(r)
    count = torch.full((groups, 1, 1), float(r), dtype=h.dtype, device=h.device)
    if exclude_padded and pad:
        count[-1] = float(r - pad)
    real = torch.ones(groups * r, 1, 1, dtype=h.dtype, device=h.device)
    if exclude_padded and pad:
        real[o:] = 0
    real = real.view(groups, r, 1)
    mean = (grouped * real).sum(dim=1, keepdim=True) / count
    var = ((grouped - mean) * real).square().sum(dim=1, keepdim=True) / (count - 1).clamp(min=1) * (count > 1)
    mean_per_channel = mean.expand(groups, r, blocks).reshape(groups * r, blocks)[:o]
    n_per_channel = count.expand(groups, r, 1).reshape(groups * r, 1)[:o]
    return mean_per_channel, var.view(groups, blocks), n_per_channel


def dub_loss_and_grad(weight: torch.Tensor, geometry: CrossbarGeometry, lam: float, *, epsilon: float = HOYER_EPSILON,
                      gate: bool = True, exclude_padded: bool = False) -> Tuple[torch.Tensor, torch.Tensor]:
    """Loss lambda * sum_t v_t of one conv weight and its gradient with respect to `weight` (closed form).

    Runs in the weight's dtype and device, without autograd. `gate=False` gives the ungated
    derivative (the reference's unused `compute_loss`).
    """
    with torch.no_grad():
        w = weight.detach()
        o = w.shape[0]
        m = w.reshape(o, -1)
        k = m.shape[1]
        seg = _segments(m, geometry.crossbar_size)  # (O, blocks, T)
        s1 = seg.abs().sum(dim=-1)
        s2 = seg.square().sum(dim=-1) + epsilon
        h = s1.square() / s2  # (O, blocks)
        mean, var, n = _crossbar_stats(h, geometry.channels_per_crossbar, exclude_padded)
        loss = lam * var.sum()
        # dv_t/dh_o = 2 (h_o - mean_t) / (n_t - 1); the gate keeps only the positive part (§4.2).
        if isinstance(n, float):
            dv_dh = (2.0 / (n - 1)) * (h - mean) if n > 1 else torch.zeros_like(h)
        else:
            dv_dh = (2.0 * (h - mean)) / (n - 1).clamp(min=1) * (n > 1)
        g = lam * (dv_dh.clamp(min=0) if gate else dv_dh)
        # dh/dw = 2 S1 sign(w)/S2' - 2 S1^2 w/S2'^2, scaled by g per segment.
        alpha = (2.0 * s1 / s2 * g).unsqueeze(-1)
        beta = (2.0 * s1.square() / s2.square() * g).unsqueeze(-1)
        grad = seg.sign() * alpha - seg * beta
        grad = grad.reshape(o, -1)[:, :k].reshape(w.shape).contiguous()
        return loss, grad


def dub_loss_and_grads_fused(weights: Sequence[torch.Tensor], geometry: CrossbarGeometry, lam: float, *,
                             epsilon: float = HOYER_EPSILON, gate: bool = True) -> Tuple[torch.Tensor, List[torch.Tensor]]:
    """`dub_loss_and_grad` for all layers at once (padded channels counted, the reference's default):
    every layer's crossbars are laid out as (crossbars, R, T) and concatenated, so the statistics and the
    gradient are a dozen passes over one tensor instead of a dozen per layer (a GPU runs a handful of
    large kernels instead of hundreds of small ones; on a CPU the layout copies cost more than they
    save, so DubRegularizer uses this on CUDA only). Returns the total loss and each weight's gradient.
    """
    t, r = geometry.crossbar_size, geometry.channels_per_crossbar
    with torch.no_grad():
        crossbars, shapes = [], []
        for w in weights:
            o = w.shape[0]
            m = w.detach().reshape(o, -1)
            k = m.shape[1]
            groups, blocks = -(-o // r), -(-k // t)
            padded = F.pad(m, (0, blocks * t - k, 0, groups * r - o))
            # (groups·R, blocks·T) → (groups, blocks, R, T): one crossbar's R channels × T inputs together.
            crossbars.append(padded.view(groups, r, blocks, t).permute(0, 2, 1, 3).reshape(-1, r, t))
            shapes.append((o, k, groups, blocks))
        x = torch.cat(crossbars) if len(crossbars) > 1 else crossbars[0]
        s1 = x.abs().sum(dim=-1)
        s2 = x.square().sum(dim=-1) + epsilon
        h = s1.square() / s2  # (crossbars, R)
        if r > 1:
            var = h.var(dim=-1)
            dv_dh = (2.0 / (r - 1)) * (h - h.mean(dim=-1, keepdim=True))
        else:
            var, dv_dh = torch.zeros_like(h[:, 0]), torch.zeros_like(h)
        loss = lam * var.sum()
        g = lam * (dv_dh.clamp(min=0) if gate else dv_dh)
        alpha = (2.0 * s1 / s2 * g).unsqueeze(-1)
        beta = (2.0 * s1.square() / s2.square() * g).unsqueeze(-1)
        grad = x.sign() * alpha - x * beta
        grads, at = [], 0
        for w, (o, k, groups, blocks) in zip(weights, shapes):
            part = grad[at:at + groups * blocks]
            at += groups * blocks
            grads.append(part.view(groups, blocks, r, t).permute(0, 2, 1, 3).reshape(groups * r, blocks * t)[:o, :k]
                         .reshape(w.shape).contiguous())
        return loss, grads


@dataclass
class DubRegularizer:
    """The D.U.B. term for a list of conv weights: `apply()` adds its gradient to each `p.grad`.

    On a GPU the closed form is a few dozen small kernels per layer, which on a fast card cost as
    much as the training step itself (launch-bound); with `cuda_graph` (the default) they are
    captured once into a CUDA graph and replayed each step. The graph reads the weights in place, so
    it stays valid while the optimizer updates them; a different list of weights is captured anew.
    """

    geometry: CrossbarGeometry
    lam: float
    epsilon: float = HOYER_EPSILON
    gate: bool = True
    exclude_padded: bool = False
    cuda_graph: bool = True
    _captured: Optional[Tuple[Any, Any, torch.Tensor, List[torch.Tensor]]] = field(default=None, init=False, repr=False, compare=False)

    def _compute(self, weights: Sequence[torch.Tensor]) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        # On a GPU all layers in one pass (a few large kernels); on a CPU layer by layer is faster.
        if not self.exclude_padded and weights and all(w.is_cuda for w in weights) and len({(w.dtype, w.device) for w in weights}) == 1:
            return dub_loss_and_grads_fused(weights, self.geometry, self.lam, epsilon=self.epsilon, gate=self.gate)
        losses, grads = [], []
        for w in weights:
            loss, grad = dub_loss_and_grad(w, self.geometry, self.lam, epsilon=self.epsilon,
                                           gate=self.gate, exclude_padded=self.exclude_padded)
            losses.append(loss)
            grads.append(grad)
        return torch.stack(losses).sum(), grads

    def _run(self, weights: Sequence[torch.Tensor]) -> Tuple[torch.Tensor, List[torch.Tensor], bool]:
        """(loss, grads, static): `static` grads are the graph's buffers, overwritten by the next call."""
        if self.cuda_graph and weights and all(w.is_cuda for w in weights):
            key = tuple((w.data_ptr(), tuple(w.shape), w.dtype, w.device) for w in weights)
            try:
                if self._captured is None or self._captured[0] != key:
                    side = torch.cuda.Stream()
                    side.wait_stream(torch.cuda.current_stream())
                    with torch.cuda.stream(side):
                        for _ in range(2):  # warm-up outside the graph (kernel selection, allocator)
                            self._compute(weights)
                    torch.cuda.current_stream().wait_stream(side)
                    graph = torch.cuda.CUDAGraph()
                    with torch.cuda.graph(graph):
                        loss, grads = self._compute(weights)
                    self._captured = (key, graph, loss, grads)
                _, graph, loss, grads = self._captured
                graph.replay()
                return loss, grads, True
            except RuntimeError as ex:  # a torch or driver without graph capture: run the kernels one by one
                self.cuda_graph = False
                self._captured = None
                sys.stderr.write(f"crossbar_lens_train: CUDA graph capture of the regularizer failed ({ex}); running it eagerly\n")
        loss, grads = self._compute(weights)
        return loss, grads, False

    def loss_and_grads(self, weights: Sequence[torch.Tensor]) -> Tuple[float, List[torch.Tensor]]:
        if not weights:
            return 0.0, []
        with torch.no_grad():
            loss, grads, static = self._run(weights)
            # One device-to-host read for all layers (a read per layer would stall a GPU each time).
            return float(loss), [g.clone() for g in grads] if static else grads

    def apply(self, weights: Sequence[nn.Parameter]) -> float:
        """Adds the closed-form gradient to every weight's `.grad` (after backward); returns the loss value."""
        if self.lam == 0 or not weights:
            return 0.0
        with torch.no_grad():
            loss, grads, static = self._run(weights)
            for w, grad in zip(weights, grads):
                if w.grad is None:
                    w.grad = grad.clone() if static else grad
                else:
                    w.grad.add_(grad)
        return float(loss)


def conv_weights(model: nn.Module, skip: Iterable[str] = ()) -> List[nn.Parameter]:
    """The weights the regularizer acts on: every nn.Conv2d weight in module order, minus `skip` names."""
    skipped = set(skip)
    return [m.weight for name, m in conv_layers(model) if name not in skipped]


# ---------------------------------------------------------------------------------------------
# The reference formulation through autograd (for tests and the benchmark): the same F.pad,
# column conv, unfold and .var() as REPO:c1_Hoyer_and_variance_class.py:compute_loss_with_gate.

class GradientGate(torch.autograd.Function):
    """Identity forward; backward keeps only strictly positive incoming gradients (the reference's gate)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        grad = grad_output.clone()
        grad.masked_fill_(grad <= 0.0, 0.0)
        return grad


def reference_dub_loss(weights: Sequence[torch.Tensor], geometry: CrossbarGeometry, lam: float, *,
                       epsilon: float = HOYER_EPSILON, gate: bool = True,
                       exclude_padded: bool = False) -> torch.Tensor:
    """Autograd version of the loss (convolution + unfold, as the reference); differentiable in `weights`."""
    total: Optional[torch.Tensor] = None
    t, r = geometry.crossbar_size, geometry.channels_per_crossbar
    for w in weights:
        o = w.shape[0]
        m = w.reshape(1, 1, o, -1)
        k = m.shape[-1]
        pad_k = (-k) % t
        pad_o = (-o) % r
        padded = F.pad(m, (0, pad_k, 0, pad_o))
        kernel = torch.ones(1, 1, 1, t, dtype=w.dtype, device=w.device)
        num = F.conv2d(padded.abs(), kernel, stride=(1, t)).pow(2)
        den = F.conv2d(padded.pow(2), kernel, stride=(1, t)) + epsilon
        h = num / den
        if gate:
            h = GradientGate.apply(h)
        if exclude_padded and pad_o:
            # Variance over the real channels only: the last channel group separately.
            hv = h[0, 0]  # (O_pad, blocks)
            full = hv[: o - (o % r)] if o % r else hv[:o]
            parts = []
            if full.shape[0]:
                parts.append(F.unfold(full.view(1, 1, *full.shape), (r, 1), stride=(r, 1)).var(dim=1).sum())
            last = hv[o - (o % r): o]
            if last.shape[0] > 1:
                parts.append(last.var(dim=0).sum())
            v = torch.stack(parts).sum() if parts else hv.sum() * 0
        else:
            v = F.unfold(h, (r, 1), stride=(r, 1)).var(dim=1).sum()
        term = lam * v
        total = term if total is None else total + term
    assert total is not None, "no weights"
    return total

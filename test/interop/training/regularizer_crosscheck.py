"""Helper of regularizerCrossCheck.test.ts (Debian's /usr/bin/python3 with torch).

Builds seeded random conv weights with torch (float32, as a model holds them; shapes with partial
crossbars at both edges; about a quarter of the weights exact zeros, plus one all-zero column
segment and one all-zero crossbar), and runs the PyTorch engine's regularizer on them: the value
and the gradient of `DubRegularizer.loss_and_grads` (the closed form the engine adds after
backward), in float64 so that the comparison is about the two formulas, not about float32 rounding.
Prints one JSON object: {"cases": [{label, shape, tile, slices, gate, excludePadded, lam, weights,
loss, grad}]}, weights and grad flattened in OIHW order (M = W.flatten(1), row-major).
"""
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(HERE))), "python"))

from crossbar_lens_train.crossbar import CrossbarGeometry  # noqa: E402
from crossbar_lens_train.regularizer import DubRegularizer  # noqa: E402

# (OIHW shape, T, q, gate, exclude_padded). K = I*H*W inputs cut into blocks of T; O output channels
# in groups of R = T/q. "partial" = the last block or group is cut short.
CASES = [
    ((16, 1, 3, 3), 4, 1, True, False),    # K 9: blocks 4+4+1
    ((6, 2, 3, 3), 4, 2, True, False),     # R 2, the smallest variance; K 18: 4*4+2
    ((10, 3, 3, 3), 8, 2, True, False),    # R 4: groups 4+4+2; K 27: 8*3+3
    ((32, 16, 3, 3), 16, 1, True, False),  # full crossbars only
    ((20, 9, 3, 3), 16, 2, True, True),    # R 8: groups 8+8+4, padded channels left out of the variance
    ((33, 8, 3, 3), 8, 1, True, True),     # the last group holds one real channel: no variance there
    ((24, 6, 5, 5), 32, 1, False, False),  # ungated; K 150: 32*4+22
    ((50, 20, 3, 3), 32, 2, True, False),  # R 16: groups 16*3+2; K 180: 32*5+20
    ((64, 32, 3, 3), 64, 1, True, False),  # K 288: 64*4+32
    ((7, 5, 1, 1), 64, 1, True, False),    # one crossbar, mostly padding
]


def weights(shape, tile, slices, seed):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(shape, generator=g) * (2.0 / (shape[1] * shape[2] * shape[3])) ** 0.5
    w[torch.rand(shape, generator=g) < 0.25] = 0.0
    m = w.view(shape[0], -1)
    m[0, :tile] = 0.0  # one all-zero column segment (h = 0)
    r = tile // slices
    if shape[0] > r and m.shape[1] > tile:
        m[r:2 * r, tile:2 * tile] = 0.0  # one all-zero crossbar (every h of it 0)
    return w


def main():
    cases = []
    for i, (shape, tile, slices, gate, exclude) in enumerate(CASES):
        w = weights(shape, tile, slices, seed=100 + i).double()
        lam = 1e-2
        reg = DubRegularizer(CrossbarGeometry(tile, slices), lam, gate=gate, exclude_padded=exclude)
        loss, (grad,) = reg.loss_and_grads([w])
        cases.append({"label": f"{'x'.join(map(str, shape))}, T={tile}, q={slices}" + ("" if gate else ", ungated")
                               + (", padded channels excluded" if exclude else ""),
                      "shape": list(shape), "tile": tile, "slices": slices, "gate": gate, "excludePadded": exclude,
                      "lam": lam, "weights": w.flatten().tolist(), "loss": loss, "grad": grad.flatten().tolist()})
    print(json.dumps({"cases": cases}))


if __name__ == "__main__":
    main()

"""NumPy baseline for `npm run bench`, and the generator of its checkpoints.

    /usr/bin/python3 bench/numpy_stats.py make DIR        # writes DIR/resnet18.pt, DIR/conv100m.pt (once)
    /usr/bin/python3 bench/numpy_stats.py stats FILE [--tile 64] [--repeat 5]

`stats` loads FILE with torch.load (our own generated file) and computes what
`crossbar-lens analyze` computes for every conv: per-column non-zero counts per block of T inputs
(vectorised NumPy, the fastest plain-NumPy formulation we know), each crossbar's least-sparse
column, its level and ADC bits, and the improvement. It prints one JSON line with the median
load time and the median statistics time over --repeat warm runs (seconds), measured separately,
and the totals (so the bench can check both tools agree).
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

import numpy as np


def column_counts(m, tile):
    """Non-zeros of each row of m (O, K) in each block of `tile` columns: (O, ceil(K/T))."""
    rows, cols = m.shape
    full = cols // tile
    parts = []
    if full:
        parts.append(np.count_nonzero(m[:, :full * tile].reshape(rows, full, tile), axis=2))
    if cols % tile:
        parts.append(np.count_nonzero(m[:, full * tile:], axis=1)[:, None])
    return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)


def layer_levels(m, tile):
    rows, cols = m.shape
    counts = column_counts(m, tile)                       # (O, blocks)
    groups = math.ceil(rows / tile)
    padded = np.zeros((groups * tile, counts.shape[1]), dtype=counts.dtype)
    padded[:rows] = counts
    lsc = padded.reshape(groups, tile, -1).max(axis=1)    # (groups, blocks): N of the least-sparse column
    lengths = np.minimum(tile, cols - np.arange(counts.shape[1]) * tile)[None, :]
    bins = math.ceil(math.log2(tile)) + 2
    with np.errstate(divide='ignore'):
        k = np.floor(np.log2(lengths / np.maximum(lsc, 1))).astype(np.int64)
    k = np.where(lsc == 0, bins - 1, np.minimum(k, bins - 2))
    return k, int(m.size - counts.sum())


def stats(state_dict, tile):
    bins = math.ceil(math.log2(tile)) + 2
    dense_bits = int(math.log2(tile))
    hist = np.zeros(bins, dtype=np.int64)
    zeros = weights = 0
    for name, w in state_dict.items():
        if not name.endswith('.weight') or w.dim() != 4:
            continue
        m = w.numpy().reshape(w.shape[0], -1)
        k, z = layer_levels(m, tile)
        hist += np.bincount(k.ravel(), minlength=bins)
        zeros += z
        weights += m.size
    bits = sum(int(n) * (0 if k == bins - 1 else max(dense_bits - k, 0)) for k, n in enumerate(hist))
    tiles = int(hist.sum())
    return {'tiles': tiles, 'weights': weights, 'zeros': zeros, 'levelHistogram': hist.tolist(),
            'adcEnergyImprovement': tiles * dense_bits / bits if bits else None}


def run_stats(args):
    import torch
    load_times, stats_times, result = [], [], None
    for _ in range(args.repeat + 1):                      # the first run warms the caches
        t0 = time.perf_counter()
        sd = torch.load(args.file, map_location='cpu')
        t1 = time.perf_counter()
        result = stats(sd, args.tile)
        t2 = time.perf_counter()
        load_times.append(t1 - t0)
        stats_times.append(t2 - t1)
        del sd
    if args.repeat > 0:
        load_times, stats_times = load_times[1:], stats_times[1:]
    print(json.dumps({'load_s': statistics.median(load_times), 'stats_s': statistics.median(stats_times),
                      'totals': result}))


def sparsify_(w, gen, rate):
    """Zeroes a random fraction `rate` of w in place."""
    import torch
    w.mul_((torch.rand(w.shape, generator=gen) >= rate).to(w.dtype))


def make(args):
    import torch
    import torch.nn as nn
    import torchvision
    os.makedirs(args.dir, exist_ok=True)
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)

    path = os.path.join(args.dir, 'resnet18.pt')
    if not os.path.exists(path):
        sd = torchvision.models.resnet18(weights=None).state_dict()
        for i, (name, w) in enumerate(sd.items()):
            if w.dim() == 4:
                sparsify_(w, gen, 0.1 + 0.8 * (i % 5) / 4)
        torch.save(sd, path + '.tmp')
        os.replace(path + '.tmp', path)

    path = os.path.join(args.dir, 'conv100m.pt')
    if not os.path.exists(path):
        # 24 x (512, 512, 3, 3) + 9 x (1024, 512, 3, 3) + (1024, 1024, 1, 1) = 100,139,008 conv weights
        shapes = [(512, 512, 3, 3)] * 24 + [(1024, 512, 3, 3)] * 9 + [(1024, 1024, 1, 1)]
        sd = {}
        for i, shape in enumerate(shapes):
            w = torch.randn(shape, generator=gen) * 0.02
            sparsify_(w, gen, 0.1 + 0.8 * (i % 5) / 4)
            sd[f'convs.{i}.weight'] = w
            sd[f'convs.{i}.bias'] = torch.zeros(shape[0])
        torch.save(sd, path + '.tmp')
        os.replace(path + '.tmp', path)
    for name in ('resnet18.pt', 'conv100m.pt'):
        print(os.path.join(args.dir, name))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest='command', required=True)
    p = sub.add_parser('make')
    p.add_argument('dir')
    p = sub.add_parser('stats')
    p.add_argument('file')
    p.add_argument('--tile', type=int, default=64)
    p.add_argument('--repeat', type=int, default=5)
    args = parser.parse_args()
    (make if args.command == 'make' else run_stats)(args)


if __name__ == '__main__':
    sys.exit(main())

"""NumPy baseline for bench/prune.mjs: the same D.U.B. prune as `crossbar-lens prune`, in NumPy.

    /usr/bin/python3 bench/prune_numpy.py make DIR
        writes DIR/resnet18.pt and DIR/conv100m.pt if missing (same shapes and sparsity recipe as
        bench/numpy_stats.py, which may have made them already)
    /usr/bin/python3 bench/prune_numpy.py run FILE --out OUT (--preset NAME | --ratio P) [--tile 64] [--repeat 3]

`run` times, separately and as the median of --repeat runs (after one warm-up run):
  load   torch.load(FILE)
  prune  D.U.B. fixed-ratio prune of every conv (docs/method.md §6), vectorised NumPy: one
         numpy.percentile(axis=1) call per (column length, q*) group and layer
  stats  the level histogram of the result (what `analyze` prints after pruning)
  save   torch.save(OUT) + fsync (the CLI fsyncs its output too)
and prints one JSON line: the times, and the totals (zeros, level histogram) so the bench can
check both tools agree.
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

import numpy as np

PRESETS = {
    'vgg11-cifar10': [2.37, 70, 75, 75, 90, 98.67, 99.84, 99.86],
    'resnet18-imagenet': [60, 60, 70, 55, 60, 60, 60, 50, 65, 65, 70, 70, 85, 75, 75, 65, 75, 70, 75, 75],
}


def blocks(K, T):
    """(start, length) of each block of T inputs, the last one possibly shorter."""
    return [(b * T, min(T, K - b * T)) for b in range(-(-K // T))]


def block_counts(mask, T):
    """Per row, the number of True in each block of T columns: (O, ceil(K/T))."""
    O, K = mask.shape
    full = K // T
    parts = []
    if full:
        parts.append(mask[:, :full * T].reshape(O, full, T).sum(axis=2))
    if K % T:
        parts.append(mask[:, full * T:].sum(axis=1)[:, None])
    return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)


def levels_from_lsc(lsc, lengths, B):
    """Rule A17 on integer arrays: B−1 if N = 0, else the largest k ≤ B−2 with N·2^k ≤ n."""
    k = np.zeros(lsc.shape, dtype=np.int64)
    for j in range(1, B - 1):
        k = np.where(lsc * (1 << j) <= lengths, j, k)
    return np.where(lsc == 0, B - 1, k)


def group_max(counts, R):
    """Max over groups of R rows (the crossbar's least-sparse column): (ceil(O/R), nb)."""
    O = counts.shape[0]
    g = -(-O // R)
    padded = np.zeros((g * R, counts.shape[1]), dtype=counts.dtype)
    padded[:O] = counts
    return padded.reshape(g, R, -1).max(axis=1)


def prune_layer(W, p, T):
    O = W.shape[0]
    M = W.reshape(O, -1)
    K = M.shape[1]
    B = int(math.ceil(math.log2(T))) + 2
    edges = [1.0 - 2.0 ** (-k) for k in range(B)]
    A = np.abs(M)
    th = np.float32(np.percentile(A, p))
    out = M.copy()
    lengths = np.array([n for _, n in blocks(K, T)], dtype=np.int64)[None, :]
    # Almost-zeros per column segment; the LSC is the segment with the fewest.
    nonzero_almost = block_counts(A > th, T)                 # (O, nb): |w| > θ per segment
    lsc = group_max(nonzero_almost, T)                        # (g, nb)
    k = levels_from_lsc(lsc, lengths, B)
    forced = lsc * (1 << 2) * (2 ** k) <= 3 * lengths         # s ≥ mid(e_k, e_{k+1}), in integers
    qidx = np.where(k == B - 2, B - 2, np.where(forced, k + 1, k))
    qidx = np.where(k == B - 1, -1, qidx)                     # −1: zero the tile (all ≤ θ)
    # Spread each tile's decision to its rows (q = 1: R = T channels per crossbar): (O, nb).
    row_q = np.repeat(qidx, T, axis=0)[:O]
    # Whole tiles with every |w| ≤ θ are zeroed.
    for b, (k0, n) in enumerate(blocks(K, T)):
        out[row_q[:, b] == -1, k0:k0 + n] = 0
    # Per-column percentiles, grouped by q*: the full blocks as one (O, nb_full, T) view, then
    # the partial last block.
    def prune_segments(A_seg, out_seg, q_seg):
        for qi in np.unique(q_seg):
            if qi < 0:
                continue
            sel = q_seg == qi
            G = A_seg[sel]
            tau = np.percentile(G, 100.0 * edges[qi], axis=1).astype(np.float32)
            kept = out_seg[sel]
            kept[G <= tau[:, None]] = 0
            out_seg[sel] = kept
    full = K // T
    if full:
        O3 = out[:, :full * T].reshape(O, full, T)            # a view when K % T == 0, else a copy
        prune_segments(A[:, :full * T].reshape(O, full, T), O3, row_q[:, :full])
        out[:, :full * T] = O3.reshape(O, full * T)
    if K % T:
        prune_segments(A[:, full * T:], out[:, full * T:], row_q[:, full])
    return out.reshape(W.shape)


def level_histogram(Ws, T):
    B = int(math.ceil(math.log2(T))) + 2
    hist = np.zeros(B, dtype=np.int64)
    zeros = 0
    for W in Ws:
        M = W.reshape(W.shape[0], -1)
        lsc = group_max(block_counts(M != 0, T), T)
        lengths = np.array([n for _, n in blocks(M.shape[1], T)], dtype=np.int64)[None, :]
        hist += np.bincount(levels_from_lsc(lsc, lengths, B).ravel(), minlength=B)
        zeros += int(M.size - np.count_nonzero(M))
    return hist.tolist(), zeros


def run(args):
    import torch
    times = {'load': [], 'prune': [], 'stats': [], 'save': []}
    result = None
    for i in range(args.repeat + 1):                          # run 0 warms the caches
        t0 = time.perf_counter()
        sd = torch.load(args.file, map_location='cpu')
        t1 = time.perf_counter()
        convs = [k for k, v in sd.items() if v.dim() == 4 and v.is_floating_point()]
        ratios = PRESETS[args.preset] if args.preset else [args.ratio] * len(convs)
        assert len(ratios) == len(convs)
        new = {}
        for name, p in zip(convs, ratios):
            new[name] = prune_layer(sd[name].numpy(), p, args.tile)
        t2 = time.perf_counter()
        hist, zeros = level_histogram(list(new.values()), args.tile)
        t3 = time.perf_counter()
        for name, w in new.items():
            sd[name] = torch.from_numpy(w)
        with open(args.out, 'wb') as f:
            torch.save(sd, f)
            f.flush()
            os.fsync(f.fileno())
        t4 = time.perf_counter()
        if i > 0 or args.repeat == 0:
            for key, dt in zip(times, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
                times[key].append(dt)
        result = {'levelHistogram': hist, 'zeros': zeros, 'weights': int(sum(w.size for w in new.values()))}
        del sd, new
    med = {f'{k}_s': statistics.median(v) for k, v in times.items()}
    med['total_s'] = statistics.median([sum(x) for x in zip(*times.values())])
    print(json.dumps({**med, 'runs': len(times['load']), 'totals': result}))


def sparsify_(w, gen, rate):
    import torch
    w.mul_((torch.rand(w.shape, generator=gen) >= rate).to(w.dtype))


def make(args):
    """The shapes and sparsity recipe of bench/numpy_stats.py make (seeded), written only when missing."""
    import torch
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
        gen = torch.Generator().manual_seed(1)
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
    p = sub.add_parser('run')
    p.add_argument('file')
    p.add_argument('--out', required=True)
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument('--preset', choices=sorted(PRESETS))
    g.add_argument('--ratio', type=float)
    p.add_argument('--tile', type=int, default=64)
    p.add_argument('--repeat', type=int, default=3)
    args = parser.parse_args()
    (make if args.command == 'make' else run)(args)


if __name__ == '__main__':
    sys.exit(main())

"""Independent NumPy reference for the crossbar statistics of `crossbar-lens analyze`.

Written from the spec (docs/method.md §1-§3, §5) and nothing else: it imports no code
of the repository. For each conv weight W (O, C, kh, kw):

  * M = W.reshape(O, -1) in the stored dtype, converted to float32 (bf16/f16 values as stored);
  * tiles of R = T/q output channels by T inputs, anchored top-left, truncated at the edges;
  * per column of a tile (one output channel): zeros z = #{|m| <= tol} (tol 0: m == 0);
  * tile sparsity s = min z / n_b (n_b: the tile's actual input length);
  * level = numpy.histogram bin of s over the edges 1 - 2^-k, k = 0..B-1, plus 1.0 (last bin closed),
    B = ceil(log2 T) + 2;
  * ADC bits per tile = max(log2 T - k, 0), and 0 for k = B-1; dense bits log2 T;
  * improvement = sum(dense bits) / sum(bits) (None when every tile is empty).

Usage:
    /usr/bin/python3 reference_stats.py CHECKPOINT [--tile 64] [--slices 1] [--tol 0] [--layers a,b,...]
prints JSON {"layers": [...], "totals": {...}}. Without --layers every 4-D tensor of the state dict
ending in '.weight' is taken (module order as stored).
"""
import argparse
import json
import math

import numpy as np


def bin_edges(tile):
    bins = math.ceil(math.log2(tile)) + 2
    return np.array([1.0 - 2.0 ** (-k) for k in range(bins)] + [1.0], dtype=np.float64), bins


def layer_stats(name, weight, tile, slices=1, tol=0.0):
    """weight: numpy float32 array (O, C, kh, kw). Returns the per-layer dict the CLI reports."""
    w = np.asarray(weight, dtype=np.float32)
    out_channels = w.shape[0]
    m = w.reshape(out_channels, -1)
    fan_in = m.shape[1]
    if tol == 0:
        zero = m == 0  # -0.0 == 0 in IEEE arithmetic
    else:
        zero = np.abs(m.astype(np.float64)) <= tol
    rows_per_tile = tile // slices
    edges, bins = bin_edges(tile)
    dense_bits = int(round(math.log2(tile)))
    sparsities = []
    grid_rows = math.ceil(fan_in / tile)
    grid_cols = math.ceil(out_channels / rows_per_tile)
    for b in range(grid_rows):
        for a in range(grid_cols):
            t = zero[a * rows_per_tile:(a + 1) * rows_per_tile, b * tile:(b + 1) * tile]
            n_b = t.shape[1]
            z = t.sum(axis=1)
            sparsities.append(z.min() / n_b)
    hist, _ = np.histogram(np.array(sparsities, dtype=np.float64), bins=edges)
    hist = [int(h) for h in hist]
    tiles = grid_rows * grid_cols
    assert sum(hist) == tiles
    bits = sum(n * (0 if k == bins - 1 else max(dense_bits - k, 0)) for k, n in enumerate(hist))
    return {
        'name': name,
        'shape': list(w.shape),
        'matrix': [out_channels, fan_in],
        'tiles': tiles,
        'weights': int(m.size),
        'zeros': int(zero.sum()),
        'levelHistogram': hist,
        'adcBitsDense': tiles * dense_bits,
        'adcBits': int(bits),
        'adcEnergyImprovement': (tiles * dense_bits / bits) if bits > 0 else None,
    }


def totals(layers, tile):
    _, bins = bin_edges(tile)
    hist = [0] * bins
    for layer in layers:
        hist = [h + n for h, n in zip(hist, layer['levelHistogram'])]
    dense = sum(layer['adcBitsDense'] for layer in layers)
    bits = sum(layer['adcBits'] for layer in layers)
    return {
        'layers': len(layers),
        'tiles': sum(layer['tiles'] for layer in layers),
        'weights': sum(layer['weights'] for layer in layers),
        'zeros': sum(layer['zeros'] for layer in layers),
        'levelHistogram': hist,
        'adcBitsDense': dense,
        'adcBits': bits,
        'adcEnergyImprovement': (dense / bits) if bits > 0 else None,
    }


def model_stats(weights, tile, slices=1, tol=0.0):
    """weights: list of (name, float32 array) in module order."""
    layers = [layer_stats(name, w, tile, slices, tol) for name, w in weights]
    return {'layers': layers, 'totals': totals(layers, tile)}


def load_state_dict(path):
    """The model's state dict from a bare or wrapped ({'model': ...}) torch.save checkpoint."""
    import torch  # only needed to read the pickle; the statistics above are pure NumPy
    obj = torch.load(path, map_location='cpu')
    if isinstance(obj, dict) and 'model' in obj and isinstance(obj['model'], dict):
        obj = obj['model']
    return obj


def conv_weights(state_dict, layer_names=None):
    """[(module name, float32 numpy array)] for the given module names (or every 4-D '.weight')."""
    if layer_names is None:
        layer_names = [k[:-len('.weight')] for k, v in state_dict.items()
                       if k.endswith('.weight') and hasattr(v, 'dim') and v.dim() == 4]
    return [(name, state_dict[name + '.weight'].float().numpy()) for name in layer_names]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('checkpoint')
    parser.add_argument('--tile', type=int, default=64)
    parser.add_argument('--slices', type=int, default=1)
    parser.add_argument('--tol', type=float, default=0.0)
    parser.add_argument('--layers', default=None, help='comma-separated module names')
    args = parser.parse_args()
    names = args.layers.split(',') if args.layers else None
    weights = conv_weights(load_state_dict(args.checkpoint), names)
    print(json.dumps(model_stats(weights, args.tile, args.slices, args.tol)))


if __name__ == '__main__':
    main()

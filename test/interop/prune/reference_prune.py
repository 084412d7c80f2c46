"""Independent NumPy reference for `crossbar-lens prune` (test/interop/prune/prune.test.ts).

Written from docs/method.md §1–§3, §6, §8.2 only; it imports nothing from the
repository. Run with Debian's Python (/usr/bin/python3: torch 1.13, torchvision 0.14, numpy 1.24).

    reference_prune.py make DIR          writes the test checkpoints into DIR (prints a JSON list)
    reference_prune.py check JOBS.json   checks CLI outputs against this reference (prints JSON)
    reference_prune.py selftest          the §11 test vectors TV2, TV5, TV11–TV16 (docs/test-vectors.json) on this reference

Conventions (spec):
  * M = W.reshape(O, -1): row o = output channel = crossbar column; K = C·Kh·Kw inputs.
  * tile (a, b) = M[a·R:(a+1)·R, b·T:(b+1)·T] truncated at the edges, R = T/q.
  * B = ceil(log2 T) + 2 bins, edges e_k = 1 − 2^−k (k = 0..B−1) and 1 (numpy-histogram rules).
  * θ = numpy.percentile(|W|, p) (linear); comparisons as torch does them: a float32 tensor
    against a Python float, i.e. |w32| <= float32(θ). Ties at a threshold are pruned.
"""
import json
import math
import os
import sys
from collections import OrderedDict, defaultdict

import numpy as np

# docs/method.md §6.2, copied from the spec (module order).
PRESETS = {
    'vgg11-cifar10': [2.37, 70, 75, 75, 90, 98.67, 99.84, 99.86],
    'resnet18-imagenet': [60, 60, 70, 55, 60, 60, 60, 50, 65, 65, 70, 70, 85, 75, 75, 65, 75, 70, 75, 75],
}


# ---------------------------------------------------------------------------------------------
# Levels (§3)

def bin_count(T):
    return int(math.ceil(math.log2(T))) + 2


def edges_for(T):
    B = bin_count(T)
    return [1.0 - 2.0 ** (-k) for k in range(B)] + [1.0]


def level_of(s, edges):
    """Bin of fraction s under numpy.histogram semantics: [e_k, e_{k+1}), last bin closed."""
    B = len(edges) - 1
    if s >= edges[B - 1]:
        return B - 1
    k = 0
    while k + 1 < B and s >= edges[k + 1]:
        k += 1
    return k


def level_from_counts(nonzeros, n, B):
    """Rule A17 from integers; used to cross-check level_of."""
    if nonzeros == 0:
        return B - 1
    k = 0
    while k < B - 2 and nonzeros * 2 ** (k + 1) <= n:
        k += 1
    return k


def tiles_of(O, K, T, q):
    R = T // q
    for a in range(-(-O // R)):
        for b in range(-(-K // T)):
            yield a, b, a * R, min(O, (a + 1) * R), b * T, min(K, (b + 1) * T)


def analyse(M, T, q=1):
    """Level histogram over exact zeros (tol 0) and the grid of levels [b][a], as analyze reports."""
    O, K = M.shape
    edges = edges_for(T)
    B = len(edges) - 1
    R = T // q
    hist = [0] * B
    grid = {}
    nz = M != 0
    for a, b, o0, o1, k0, k1 in tiles_of(O, K, T, q):
        n = k1 - k0
        lsc = int(nz[o0:o1, k0:k1].sum(axis=1).max())
        k = level_of((n - lsc) / n, edges)
        assert k == level_from_counts(lsc, n, B), (lsc, n, k)
        hist[k] += 1
        grid[(b, a)] = k
    rows, cols = -(-K // T), -(-O // R)
    levels = [grid[(b, a)] for b in range(rows) for a in range(cols)]
    return hist, levels


def adc_bits(hist, T):
    """§5.2: bits(k) = max(log2 T − k, 0), bits(B−1) = 0; dense = log2 T per crossbar."""
    B = len(hist)
    dense_bits = int(round(math.log2(T)))
    bits = sum(n * (0 if k == B - 1 else max(dense_bits - k, 0)) for k, n in enumerate(hist))
    return sum(hist) * dense_bits, bits


# ---------------------------------------------------------------------------------------------
# Pruning (§6, §8.2)

def layer_threshold(W32, p):
    return float(np.percentile(np.abs(W32), p))


def prune_unstructured(W32, p):
    """§8.2 step 1: zero |w| <= percentile(|W|, p)."""
    theta = layer_threshold(W32, p)
    out = W32.copy()
    out[np.abs(W32) <= np.float32(theta)] = np.float32(0)
    return out, theta


def prune_dub(W32, theta, T, q=1, variant='fixed', skip_q0=False):
    """§6 on one conv weight (float32), θ given. variant 'fixed' (headline) or 'tol'."""
    O = W32.shape[0]
    M = np.ascontiguousarray(W32.reshape(O, -1))
    K = M.shape[1]
    A = np.abs(M)
    out = M.copy()
    edges = edges_for(T)
    B = len(edges) - 1
    th32 = np.float32(theta)
    almost = A <= th32
    # Per-column percentiles are done in groups of equal column length n and q*, one
    # numpy.percentile(axis=1) call each (bit-identical to one call per column).
    groups = defaultdict(list)
    for a, b, o0, o1, k0, k1 in tiles_of(O, K, T, q):
        n = k1 - k0
        z = almost[o0:o1, k0:k1].sum(axis=1)
        s = int(z.min()) / n
        k = level_of(s, edges)
        assert k == level_from_counts(n - int(z.min()), n, B)
        if k == B - 1:
            # The least-sparse column is entirely <= θ, so the whole tile is.
            tile = out[o0:o1, k0:k1]
            tile[A[o0:o1, k0:k1] <= th32] = 0
            continue
        if k == B - 2:
            if variant == 'tol':
                out[o0:o1, k0:k1] = 0
                continue
            qstar = edges[B - 2]
        else:
            mid = (edges[k] + edges[k + 1]) / 2
            qstar = edges[k + 1] if s >= mid else edges[k]
            if qstar == 0 and skip_q0:
                continue
        for o in range(o0, o1):
            groups[(n, qstar)].append((o, k0))
    for (n, qstar), members in groups.items():
        rows = np.array([m[0] for m in members], dtype=np.int64)[:, None]
        cols = np.array([m[1] for m in members], dtype=np.int64)[:, None] + np.arange(n)[None, :]
        G = A[rows, cols]
        tau = np.percentile(G, 100.0 * qstar, axis=1)
        sub = out[rows, cols]
        sub[G <= tau.astype(np.float32)[:, None]] = 0
        out[rows, cols] = sub
    return out.reshape(W32.shape)


# ---------------------------------------------------------------------------------------------
# Checkpoints

def vgg11_cifar():
    import torch.nn as nn
    cfg = [64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M']
    layers, c = [], 3
    for v in cfg:
        if v == 'M':
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(c, v, 3, padding=1, bias=True), nn.ReLU(inplace=True)]
            c = v

    class VGG11(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(*layers)
            self.classifier = nn.Sequential(nn.Linear(512, 512), nn.ReLU(True), nn.Linear(512, 512), nn.ReLU(True), nn.Linear(512, 10))

        def forward(self, x):
            return self.classifier(self.features(x).flatten(1))
    return VGG11()


def make(folder):
    import os
    import torch
    import torchvision
    os.makedirs(folder, exist_ok=True)
    made = []

    torch.manual_seed(1234)
    net = torchvision.models.resnet18(weights=None)
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    net.train()
    loss = torch.nn.functional.cross_entropy(net(torch.randn(2, 3, 64, 64)), torch.tensor([3, 7]))
    loss.backward()
    opt.step()
    path = os.path.join(folder, 'resnet18.pth')
    torch.save({'epoch': 5, 'model': net.state_dict(), 'optimizer': opt.state_dict()}, path)
    made.append(path)

    torch.manual_seed(4321)
    vgg = vgg11_cifar()
    path = os.path.join(folder, 'vgg11.pth')
    torch.save(vgg.state_dict(), path)
    made.append(path)
    path = os.path.join(folder, 'vgg11-fp16.pth')
    torch.save(vgg.half().state_dict(), path)
    made.append(path)

    # Large but cheap checkpoint for the kill test: one small conv and one big 1-D buffer.
    big_mb = int(os.environ.get('PRUNE_TEST_BIG_MB', '256'))
    g = torch.Generator().manual_seed(7)
    path = os.path.join(folder, 'big.pth')
    torch.save({'conv.weight': torch.randn(64, 64, 3, 3, generator=g), 'blob': torch.ones(big_mb * 1024 * 1024 // 4)}, path)
    made.append(path)

    # float64 conv weights that float32 cannot represent exactly.
    path = os.path.join(folder, 'f64.pth')
    torch.save({'conv.weight': torch.randn(64, 32, 3, 3, generator=g, dtype=torch.float64), 'conv.bias': torch.zeros(64, dtype=torch.float64)}, path)
    made.append(path)
    print(json.dumps(made))


# ---------------------------------------------------------------------------------------------
# Checking a CLI output

def model_dict(obj):
    return obj['model'] if isinstance(obj, dict) and 'model' in obj and isinstance(obj['model'], dict) else obj


def conv_names(sd):
    import torch
    return [k for k, v in sd.items() if isinstance(v, torch.Tensor) and v.dim() == 4 and v.is_floating_point()]


def tensor_bytes(t):
    import torch
    t = t.detach().contiguous()
    return (t.view(torch.int16) if t.dtype == torch.bfloat16 else t).numpy().tobytes()


def compare_tree(a, b, path, skip, diffs, counter):
    """Everything except the `skip` tensors must be identical: types, keys, order, values, bytes."""
    import torch
    if isinstance(a, torch.Tensor):
        counter[0] += 1
        if id(a) in skip:
            return
        if not isinstance(b, torch.Tensor) or a.dtype != b.dtype or a.shape != b.shape or a.stride() != b.stride() \
                or tensor_bytes(a) != tensor_bytes(b):
            diffs.append(path)
        return
    if type(a) is not type(b):
        diffs.append(f'{path} (type {type(a).__name__} vs {type(b).__name__})')
        return
    if isinstance(a, dict):
        if list(a.keys()) != list(b.keys()):
            diffs.append(f'{path} (keys)')
            return
        for k in a:
            compare_tree(a[k], b[k], f'{path}/{k}', skip, diffs, counter)
        return
    if isinstance(a, (list, tuple)):
        if len(a) != len(b):
            diffs.append(f'{path} (length)')
            return
        for i, (x, y) in enumerate(zip(a, b)):
            compare_tree(x, y, f'{path}[{i}]', skip, diffs, counter)
        return
    counter[0] += 1
    if a != b and not (isinstance(a, float) and math.isnan(a) and math.isnan(b)):
        diffs.append(path)


def try_weights_only(path):
    import torch
    try:
        torch.load(path, map_location='cpu', weights_only=True)
        return 'ok'
    except Exception as ex:  # report the reason, whatever it is
        return f'error: {type(ex).__name__}: {str(ex).splitlines()[0] if str(ex) else ""}'


def check(job):
    """One CLI output against the reference; returns a JSON-able report."""
    import torch
    src = torch.load(job['input'], map_location='cpu')
    out = torch.load(job['output'], map_location='cpu')
    sd_in, sd_out = model_dict(src), model_dict(out)
    names = conv_names(sd_in)
    method, T, q = job['method'], job['tile'], job.get('slices', 1)
    if method == 'dub-tol':
        ratios = [None] * len(names)
    elif 'preset' in job:
        ratios = PRESETS[job['preset']]
    else:
        ratios = job['ratios']
    assert len(ratios) == len(names), (len(ratios), len(names))
    B = bin_count(T)
    report = {'convs': names, 'layers': [], 'hist': [0] * B, 'unstructuredHist': [0] * B}
    for name, p in zip(names, ratios):
        w_in, w_out = sd_in[name], sd_out[name]
        W32 = w_in.float().numpy()
        if method == 'unstructured':
            ref, theta = prune_unstructured(W32, p)
        elif method == 'dub':
            theta = layer_threshold(W32, p)
            ref = prune_dub(W32, theta, T, q, 'fixed', job.get('skipQ0', False))
        elif method == 'dub-tol':
            theta = job.get('tol', 1e-3)
            ref = prune_dub(W32, theta, T, q, 'tol', job.get('skipQ0', False))
        else:
            raise ValueError(method)
        got = w_out.float().numpy()
        ref_mask, got_mask = ref == 0, got == 0
        # Expected stored tensor: the input's own dtype, pruned entries +0.
        expected = torch.from_numpy(ref).to(w_in.dtype)
        hist, levels = analyse(ref.reshape(ref.shape[0], -1), T, q)
        report['hist'] = [x + y for x, y in zip(report['hist'], hist)]
        layer = {
            'name': name, 'ratio': p, 'threshold': theta, 'weights': int(W32.size),
            'zerosRef': int(ref_mask.sum()), 'zerosOut': int(got_mask.sum()),
            'prunedRef': int((ref_mask & (W32 != 0)).sum()),
            'patternMismatch': int((ref_mask != got_mask).sum()),
            # Non-zero outputs whose value differs from the input's (in the stored dtype).
            'keptValuesChanged': int((w_out[w_out != 0] != w_in[w_out != 0]).sum()) if w_out.shape == w_in.shape else -1,
            'bytesEqual': w_out.dtype == w_in.dtype and w_out.shape == w_in.shape and tensor_bytes(w_out) == tensor_bytes(expected),
            'hist': hist, 'levels': levels,
        }
        if method != 'unstructured' and p is not None:
            base, _ = prune_unstructured(W32, p)
            uh, _ = analyse(base.reshape(base.shape[0], -1), T, q)
            layer['unstructuredHist'] = uh
            report['unstructuredHist'] = [x + y for x, y in zip(report['unstructuredHist'], uh)]
        report['layers'].append(layer)
    dense, bits = adc_bits(report['hist'], T)
    report['adcEnergyImprovement'] = dense / bits if bits else None
    if method != 'unstructured' and ratios[0] is not None:
        dense, bits = adc_bits(report['unstructuredHist'], T)
        report['unstructuredImprovement'] = dense / bits if bits else None
    skip = {id(sd_in[n]) for n in names}
    diffs, counter = [], [0]
    compare_tree(src, out, '', skip, diffs, counter)
    report['others'] = {'compared': counter[0] - len(names), 'different': diffs}
    if job.get('weightsOnly'):
        report['weightsOnly'] = {'input': try_weights_only(job['input']), 'output': try_weights_only(job['output'])}
    return report


# ---------------------------------------------------------------------------------------------
# §11 vectors on this reference (its own sanity check)

VECTORS_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', 'docs', 'test-vectors.json')


def selftest():
    with open(VECTORS_PATH, encoding='utf-8') as f:
        tv = json.load(f)['vectors']

    def f32(rows):
        return np.array(rows, dtype=np.float32)

    def pruned(v, **kwargs):
        m = f32(v['input'])
        return prune_dub(m.reshape(m.shape[0], m.shape[1], 1, 1), v['theta'], v['T'], **kwargs).reshape(m.shape)

    for key in ('TV11', 'TV12', 'TV14', 'TV15'):
        r = pruned(tv[key])
        assert np.array_equal(r, f32(tv[key]['expected']['output'])), (key, r)
    assert np.array_equal(pruned(tv['TV13'], variant='tol'), f32(tv['TV13']['expected']['tolOutput']))  # TV13 tol
    r = pruned(tv['TV13'])
    assert np.array_equal(r, f32(tv['TV13']['expected']['fixedOutput'])), r  # TV13 fixed
    edges = edges_for(tv['TV2']['T'])  # TV2
    assert [level_of(c['zeros'] / tv['TV2']['T'], edges) for c in tv['TV2']['cases']] == [c['k'] for c in tv['TV2']['cases']]
    for c in tv['TV16']['columns']:  # TV16
        v = np.arange(1, c['n'] + 1, dtype=np.float32)
        assert int((v <= np.float32(np.percentile(v, 100 * c['qStar']))).sum()) == c['pruned'], c
    layer = tv['TV16']['layer']
    assert layer_threshold(np.array(layer['absValues'], dtype=np.float32), layer['ratio']) == layer['threshold']
    for c in tv['TV5']['cases']:  # TV5
        assert adc_bits(c['histogram'], c['T']) == (c['dense'], c['current']), c
    print(json.dumps({'selftest': 'ok'}))


def main():
    cmd = sys.argv[1]
    if cmd == 'make':
        make(sys.argv[2])
    elif cmd == 'check':
        with open(sys.argv[2]) as f:
            jobs = json.load(f)
        print(json.dumps({key: check(job) for key, job in jobs.items()}))
    elif cmd == 'selftest':
        selftest()
    else:
        raise SystemExit(__doc__)


if __name__ == '__main__':
    main()

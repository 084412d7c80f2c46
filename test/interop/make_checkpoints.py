"""Writes the real PyTorch/ONNX files the interop tests feed to the built CLI, and the numbers the
independent NumPy reference (reference_stats.py) computes for them.

    /usr/bin/python3 make_checkpoints.py --out DIR --set models   # ResNet18 + CIFAR VGG11 variants
    /usr/bin/python3 make_checkpoints.py --out DIR --set errors   # broken and hostile files

Writes DIR/manifest.json. Everything is random-init (no downloads) with a fixed seed.
"""
import argparse
import io
import json
import math
import os
import pickle
import struct
import sys
import zipfile

import numpy as np
import torch
import torch.nn as nn
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_stats  # noqa: E402  (the independent NumPy reference, same folder)

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, '..', '..'))


# --------------------------------------------------------------------------------------------
# Models

class VGG11Cifar(nn.Module):
    """VGG11 for CIFAR-10 (docs/method.md §2.7): 8 convs with biases, no BN, FC 512-512-10."""
    cfg = [64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M']

    def __init__(self):
        super().__init__()
        layers, cin = [], 3
        for v in self.cfg:
            if v == 'M':
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(cin, v, 3, padding=1), nn.ReLU(inplace=True)]
                cin = v
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Linear(512, 512), nn.ReLU(inplace=True), nn.Linear(512, 10))

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


def conv_names(model):
    return [name for name, m in model.named_modules() if isinstance(m, nn.Conv2d)]


def sparsify(w, rng, tile=64):
    """Makes a conv weight sparse the way pruned checkpoints are, with every level represented:
    unstructured zeros at a per-layer rate, dead output and input channels, crossbar-sized
    blocks with exactly N non-zeros per column, negative zeros, and tiny values that are non-zero
    in float32 but vanish in bfloat16 (1e-44) or float16 (1e-9)."""
    out_channels = w.shape[0]
    m = w.detach().clone().reshape(out_channels, -1).numpy()
    fan_in = m.shape[1]
    m[rng.random(m.shape) < rng.uniform(0.2, 0.9)] = 0
    m[rng.random(out_channels) < 0.05, :] = 0
    k = w.shape[2] * w.shape[3]
    for c in np.nonzero(rng.random(w.shape[1]) < 0.05)[0]:
        m[:, c * k:(c + 1) * k] = 0
    for a in range(math.ceil(out_channels / tile)):
        for b in range(math.ceil(fan_in / tile)):
            if rng.random() < 0.4:
                block = m[a * tile:(a + 1) * tile, b * tile:(b + 1) * tile]
                keep = int(rng.choice([0, 1, 2, 3, 4, 5, 8, 9, 16, 17, 31, 32, 33]))
                for row in block:
                    nz = np.nonzero(row)[0]
                    if len(nz) > keep:
                        row[rng.choice(nz, len(nz) - keep, replace=False)] = 0
    zeros = np.argwhere(m == 0)
    if len(zeros) > 0:
        pick = zeros[rng.random(len(zeros)) < 0.002]
        m[pick[:, 0], pick[:, 1]] = np.float32(1e-44)
        pick = zeros[rng.random(len(zeros)) < 0.002]
        m[pick[:, 0], pick[:, 1]] = np.float32(-1e-9)
        pick = zeros[rng.random(len(zeros)) < 0.3]
        pick = pick[m[pick[:, 0], pick[:, 1]] == 0]
        m[pick[:, 0], pick[:, 1]] = np.float32(-0.0)
    return torch.from_numpy(m.reshape(tuple(w.shape)))


def make_sparse(model, rng):
    sd = model.state_dict()
    for name in conv_names(model):
        sd[name + '.weight'] = sparsify(sd[name + '.weight'], rng)
    model.load_state_dict(sd)
    return model


def cast(sd, dtype):
    return {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in sd.items()}


def wrapped(sd, rng):
    """A training checkpoint: epoch, model, SGD optimizer state with momentum buffers (the same
    4-D shapes as the conv weights, under integer keys), and a numpy float."""
    params = [v.detach().clone().float().requires_grad_() for v in sd.values() if v.is_floating_point()]
    optimizer = torch.optim.SGD(params, lr=0.1, momentum=0.9, weight_decay=5e-4)
    for p in params:
        p.grad = torch.randn_like(p)
    optimizer.step()
    opt = optimizer.state_dict()
    dtype = next(v.dtype for v in sd.values() if v.is_floating_point())
    for state in opt['state'].values():
        state['momentum_buffer'] = state['momentum_buffer'].to(dtype)
    return {'epoch': 42, 'model': sd, 'optimizer': opt, 'best_acc': np.float64(0.9027)}


def noncontiguous(sd, names):
    """Same values, but conv weights stored as views of larger or shared storages."""
    sd = dict(sd)
    w = [sd[n + '.weight'] for n in names]
    # 1. every other slice of a storage twice as large (stride, offset 0)
    big = torch.randn((w[1].shape[0] * 2,) + tuple(w[1].shape[1:]))
    big[::2] = w[1]
    sd[names[1] + '.weight'] = big[::2]
    # 2. the odd slices (stride and storage offset)
    big = torch.randn((w[2].shape[0] * 2,) + tuple(w[2].shape[1:]))
    big[1::2] = w[2]
    sd[names[2] + '.weight'] = big[1::2]
    # 3. a transposed view (O and C swapped in memory)
    sd[names[3] + '.weight'] = w[3].permute(1, 0, 2, 3).contiguous().permute(1, 0, 2, 3)
    # 4. channels_last memory format (NHWC strides)
    sd[names[4] + '.weight'] = w[4].contiguous(memory_format=torch.channels_last)
    # 5. two weights sharing one flat storage, the second at an offset
    shared = torch.cat([w[5].flatten(), w[6].flatten()])
    sd[names[5] + '.weight'] = shared[:w[5].numel()].view(w[5].shape)
    sd[names[6] + '.weight'] = shared[w[5].numel():].view(w[6].shape)
    for n in names[1:7]:
        assert torch.equal(sd[n + '.weight'], w[names.index(n)])
    assert not sd[names[1] + '.weight'].is_contiguous() and not sd[names[3] + '.weight'].is_contiguous()
    return sd


def output_sizes(model, input_size):
    sizes = {}
    hooks = [m.register_forward_hook(lambda mod, inp, out, name=name: sizes.__setitem__(name, list(out.shape[2:])))
             for name, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        model.eval()(torch.zeros((1,) + tuple(input_size)))
    for h in hooks:
        h.remove()
    return sizes


def onnx_conv_weights(path):
    """Conv weights of an ONNX file in node order, read with the onnx package (a cross-check
    that export, which folds BatchNorm into the convs, kept every zero)."""
    import onnx
    from onnx import numpy_helper
    model = onnx.load(path)
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    alias = {n.output[0]: n.input[0] for n in model.graph.node if n.op_type == 'Identity'}
    out = []
    for node in model.graph.node:
        if node.op_type == 'Conv':
            name = node.input[1]
            name = alias.get(name, name)
            out.append((node.name or name, inits[name].astype(np.float32)))
    return out


CONFIGS = {
    'T64': dict(tile=64),
    'T32': dict(tile=32),
    'T64-tol1e-3-q2': dict(tile=64, slices=2, tol=1e-3),
}


def make_models(out):
    rng = np.random.default_rng(1234)
    torch.manual_seed(1234)
    manifest = {'models': {}, 'expected': {}}
    models = [
        ('resnet18', torchvision.models.resnet18(weights=None), [3, 64, 64]),
        ('vgg11', VGG11Cifar(), [3, 32, 32]),
    ]
    for tag, model, input_size in models:
        model = make_sparse(model, rng)
        names = conv_names(model)
        sd = model.state_dict()
        entry = {'layers': names, 'variants': {}}
        for dtype_tag, dtype in [('f32', torch.float32), ('f16', torch.float16), ('bf16', torch.bfloat16)]:
            sdd = cast(sd, dtype)
            for wrap in (False, True):
                variant = dtype_tag + ('-wrapped' if wrap else '')
                file = f'{tag}-{variant}.pt'
                torch.save(wrapped(sdd, rng) if wrap else sdd, os.path.join(out, file))
                entry['variants'][variant] = {'file': file, 'dtype': dtype_tag, 'wrapped': wrap}
        file = f'{tag}-noncontig.pt'
        torch.save(noncontiguous(sd, names), os.path.join(out, file))
        entry['variants']['noncontig'] = {'file': file, 'dtype': 'f32', 'wrapped': False}

        onnx_file = f'{tag}.onnx'
        torch.onnx.export(model.eval(), torch.zeros([1] + input_size), os.path.join(out, onnx_file))
        sizes = output_sizes(model, input_size)
        entry['onnx'] = {'file': onnx_file, 'inputSize': input_size, 'outputSizes': [sizes[n] for n in names]}
        manifest['models'][tag] = entry

        # Expected numbers: each file read back from disk, statistics by the NumPy reference.
        for variant in entry['variants'].values():
            weights = reference_stats.conv_weights(reference_stats.load_state_dict(os.path.join(out, variant['file'])), names)
            variant['expected'] = {key: reference_stats.model_stats(weights, **cfg) for key, cfg in CONFIGS.items()
                                   if key != 'T64-tol1e-3-q2' or variant['file'].endswith('-f32.pt')}
        onnx_weights = onnx_conv_weights(os.path.join(out, onnx_file))
        onnx_expected = reference_stats.model_stats(onnx_weights, 64)
        f32 = entry['variants']['f32']['expected']['T64']
        assert [l['levelHistogram'] for l in onnx_expected['layers']] == [l['levelHistogram'] for l in f32['layers']], tag
        assert [l['zeros'] for l in onnx_expected['layers']] == [l['zeros'] for l in f32['layers']], tag
        entry['onnx']['expected'] = {'T64': onnx_expected}
        entry['onnx']['crossbarActivations'] = {
            key: sum(l['tiles'] * hw[0] * hw[1] for l, hw in zip(entry['variants']['f32']['expected'][key]['layers'], entry['onnx']['outputSizes']))
            for key in ('T64', 'T32')}
        # The point of the f16/bf16 variants: their tiny values vanish, so the numbers differ.
        z = {v: entry['variants'][v]['expected']['T64']['totals']['zeros'] for v in ('f32', 'f16', 'bf16')}
        assert z['f32'] < z['bf16'] < z['f16'], z
    with open(os.path.join(out, 'manifest.json'), 'w') as f:
        json.dump(manifest, f)


# --------------------------------------------------------------------------------------------
# Broken and hostile files

class Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}',))


def zip_entries(data):
    """(central-directory header offset, name) of every entry of a small zip."""
    eocd = data.rfind(b'PK\x05\x06')
    count, cd_size, cd_offset = struct.unpack_from('<HII', data, eocd + 10)
    entries, pos = [], cd_offset
    for _ in range(count):
        assert data[pos:pos + 4] == b'PK\x01\x02'
        name_len, extra_len, comment_len = struct.unpack_from('<HHH', data, pos + 28)
        entries.append((pos, data[pos + 46:pos + 46 + name_len].decode()))
        pos += 46 + name_len + extra_len + comment_len
    return entries


def lie_about_size(data, pick):
    data = bytearray(data)
    for pos, name in zip_entries(bytes(data)):
        if pick(name):
            struct.pack_into('<II', data, pos + 20, 0x7ffffff0, 0x7ffffff0)  # compressed, uncompressed size
            return bytes(data)
    raise AssertionError('no entry to patch')


def npy_header(descr, shape, version=1, header_len=None):
    text = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, repr(tuple(shape)))
    text += ' ' * ((64 - (len(text) + 12) % 64) % 64) + '\n'
    body = text.encode('latin1')
    if version == 1:
        return b'\x93NUMPY\x01\x00' + struct.pack('<H', header_len if header_len is not None else len(body)) + body
    return b'\x93NUMPY\x02\x00' + struct.pack('<I', header_len if header_len is not None else len(body)) + body


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7f
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def make_errors(out):
    torch.manual_seed(7)
    rng = np.random.default_rng(7)
    files = {}

    def write(name, data, **info):
        with open(os.path.join(out, name), 'wb') as f:
            f.write(data)
        files[name] = info

    example = os.path.join(REPO, 'examples', 'digits-cnn.pt')
    with open(example, 'rb') as f:
        digits = f.read()

    # A real (small) sparse checkpoint for --fail-under and the JSON contract.
    model = make_sparse(VGG11Cifar(), rng)
    small = {k: v for k, v in model.state_dict().items() if k.startswith('features.0') or k.startswith('features.3')}
    buf = io.BytesIO()
    torch.save(small, buf)
    write('sparse-small.pt', buf.getvalue(), expect='ok')

    resnet = io.BytesIO()
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), resnet)
    resnet = resnet.getvalue()
    write('truncated-resnet18.pt', resnet[:len(resnet) // 2], expect=3)
    write('truncated-digits.pt', digits[:len(digits) // 2], expect=3)
    write('text-renamed.pt', b'this is a text file, not a model\n' * 20, expect=3)
    write('zip-size-lie-pkl.pt', lie_about_size(digits, lambda n: n.endswith('data.pkl')), expect=3)
    write('zip-size-lie-tensor.pt', lie_about_size(digits, lambda n: '/data/' in n), expect=3)

    marker = os.path.join(out, 'PWNED_MARKER')
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, 'w', zipfile.ZIP_STORED) as z:
        z.writestr('archive/data.pkl', pickle.dumps({'conv.weight': Exploit(marker)}, protocol=2))
        z.writestr('archive/version', '3\n')
        z.writestr('archive/byteorder', 'little')
    write('pickle-exploit.pt', buf.getvalue(), expect=3, reason='unsafe-pickle-global', marker=marker)
    marker2 = os.path.join(out, 'PWNED_MARKER_LEGACY')
    # The legacy (pre-1.6, non-zip) layout: magic number, protocol version, sys info, then the object.
    legacy = b''.join(pickle.dumps(x, protocol=2) for x in [
        0x1950a86a20f9469cfc6c, 1001, {'protocol_version': 1001, 'little_endian': True,
                                       'type_sizes': {'short': 2, 'int': 4, 'long': 4}}, {'conv.weight': Exploit(marker2)}])
    write('pickle-exploit-legacy.pt', legacy, expect=3, marker=marker2)

    write('huge-header.safetensors', struct.pack('<Q', 2 ** 60) + b'{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}' + b'\0' * 4,
          expect=3)
    write('huge-shape.safetensors', (lambda h: struct.pack('<Q', len(h)) + h + b'\0' * 16)(
        json.dumps({'conv.weight': {'dtype': 'F32', 'shape': [2 ** 40, 2 ** 40, 3, 3], 'data_offsets': [0, 16]}}).encode()),
          expect=3)

    for name, npy in [('huge-header.npz', npy_header('<f4', (64, 3, 3, 3), version=2, header_len=0xfffffff0) + b'\0' * 64),
                      ('huge-shape.npz', npy_header('<f4', (2 ** 40, 2 ** 40, 3, 3)) + b'\0' * 64)]:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, 'w', zipfile.ZIP_STORED) as z:
            z.writestr('conv.weight.npy', npy)
        write(name, buf.getvalue(), expect=3)

    # ONNX: ModelProto with ir_version 7 and a graph field claiming 2^60 bytes.
    write('huge-length.onnx', b'\x08\x07' + b'\x3a' + varint(2 ** 60) + b'\0' * 32, expect=3)
    # ONNX: a well-formed model whose conv weight declares 2^40 x 2^40 x 3 x 3 elements.
    import onnx
    from onnx import helper, TensorProto
    weight = TensorProto(name='W', data_type=TensorProto.FLOAT, dims=[2 ** 40, 2 ** 40, 3, 3], raw_data=b'\0' * 16)
    graph = helper.make_graph([helper.make_node('Conv', ['x', 'W'], ['y'], name='conv')], 'g',
                              [helper.make_tensor_value_info('x', TensorProto.FLOAT, [1, 2 ** 40, 8, 8])],
                              [helper.make_tensor_value_info('y', TensorProto.FLOAT, None)], initializer=[weight])
    write('huge-dims.onnx', helper.make_model(graph).SerializeToString(), expect=3)

    sd = torch.load(example, map_location='cpu')['model']
    sd['conv2.weight'][3, 1, 2, 0] = float('nan')
    buf = io.BytesIO()
    torch.save(sd, buf)
    write('nan-weights.pt', buf.getvalue(), expect=3, reason='nan-weights')

    with open(os.path.join(out, 'manifest.json'), 'w') as f:
        json.dump({'files': files}, f)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', required=True)
    parser.add_argument('--set', choices=['models', 'errors'], required=True)
    args = parser.parse_args()
    torch.set_num_threads(2)
    os.makedirs(args.out, exist_ok=True)
    (make_models if args.set == 'models' else make_errors)(args.out)


if __name__ == '__main__':
    main()

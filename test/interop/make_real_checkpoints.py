"""Writes the checkpoints researchers actually have, with real torch, for realCheckpoints.test.ts,
and checks what `crossbar-lens prune` wrote back from them (torch loads it, in the same form).

    /usr/bin/python3 make_real_checkpoints.py --out DIR                       # files + DIR/manifest.json
    /usr/bin/python3 make_real_checkpoints.py --check KIND --input IN --output OUT [--reference SD]

The files: a torchvision ResNet-18 pruned with torch.nn.utils.prune (l1_unstructured and
ln_structured, one layer pruned twice); a sparse ResNet-18 as a state_dict, as safetensors shards
written by hand and torch .bin shards with their Hugging Face index, as torch.save(model), in the
legacy (non-zip) format, with DataParallel `module.` names and as a Lightning checkpoint; a model
class defined in this script saved whole (unpickling it with its class would create a marker
file); a torch.ao quantized CNN; and the digits CNN pruned and saved whole, for the engine.
Expected numbers come from the NumPy reference (reference_stats.py) on the weights the model's
forward uses (orig * mask, dequantized values). Everything is random-init with fixed seeds.
"""
import argparse
import collections
import json
import os
import struct
import sys
import zipfile

import numpy as np
import torch
import torch.nn as nn
import torch.nn.utils.prune as prune
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, '..', '..'))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(REPO, 'python'))
import reference_stats  # noqa: E402  (the independent NumPy reference)

MARKER_NAME = 'UNPICKLED_WITH_ITS_CLASS'


class CustomNet(nn.Module):
    """A model class defined in this script (pickled as __main__.CustomNet). Unpickling it with its
    class (torch.load without a restricted unpickler) runs __setstate__, which creates the marker."""

    marker = None

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 48, 3, padding=1), nn.BatchNorm2d(48), nn.ReLU())
        self.blocks = nn.ModuleList([nn.Conv2d(48, 96, 3, padding=1), nn.Conv2d(96, 96, 3, groups=1, padding=1)])
        self.head = nn.Linear(96, 10)

    def __setstate__(self, state):
        open(state.get('marker_path', 'UNPICKLED'), 'w').close()
        super().__setstate__(state)


class QuantCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.quant = torch.ao.quantization.QuantStub()
        self.conv1 = nn.Conv2d(3, 32, 3)
        self.conv2 = nn.Conv2d(32, 64, 3)
        self.conv3 = nn.Conv2d(64, 64, 3)
        self.fc = nn.Linear(64, 10)
        self.dequant = torch.ao.quantization.DeQuantStub()

    def forward(self, x):
        x = torch.relu(self.conv1(self.quant(x)))
        x = torch.relu(self.conv2(x))
        x = torch.relu(self.conv3(x))
        return self.dequant(self.fc(x.mean((2, 3))))


def conv_names(model):
    return [name for name, m in model.named_modules() if isinstance(m, nn.Conv2d)]


def effective(sd, names):
    """[(name, float32 array)]: X_orig * X_mask in NumPy where torch.nn.utils.prune left a pair, else X."""
    out = []
    for name in names:
        if name + '.weight_orig' in sd:
            out.append((name, sd[name + '.weight_orig'].numpy() * sd[name + '.weight_mask'].numpy()))
        else:
            w = sd[name + '.weight']
            out.append((name, (w.dequantize() if w.is_quantized else w).float().numpy()))
    return out


def stats(weights):
    return {key: reference_stats.model_stats(weights, tile) for key, tile in (('T64', 64), ('T32', 32))}


def sparse_resnet(seed):
    """A torchvision ResNet-18 with real zeros at per-layer rates (pruned, then made permanent)."""
    torch.manual_seed(seed)
    model = torchvision.models.resnet18(weights=None).eval()
    rng = np.random.default_rng(seed)
    for name in conv_names(model):
        module = model.get_submodule(name)
        prune.l1_unstructured(module, 'weight', amount=float(rng.choice([0.3, 0.6, 0.9, 0.97, 0.995])))
        prune.remove(module, 'weight')
    return model


# ---- safetensors by hand: u64 LE header length, JSON header, raw little-endian data ------------

ST_CODES = {torch.float32: 'F32', torch.float16: 'F16', torch.int64: 'I64', torch.float64: 'F64'}
NP_TYPES = {'F32': '<f4', 'F16': '<f2', 'I64': '<i8', 'F64': '<f8'}


def write_safetensors(path, tensors):
    """Tensors in the reference writer's order (dtype rank descending, then name), as safetensors writes them."""
    rank = {'I64': 13, 'F64': 12, 'F32': 11, 'F16': 7}
    items = sorted(tensors.items(), key=lambda kv: (-rank[ST_CODES[kv[1].dtype]], kv[0]))
    header, blobs, offset = {'__metadata__': {'format': 'pt'}}, [], 0
    for name, t in items:
        data = t.detach().contiguous().numpy().astype(NP_TYPES[ST_CODES[t.dtype]]).tobytes()
        header[name] = {'dtype': ST_CODES[t.dtype], 'shape': list(t.shape), 'data_offsets': [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    head = json.dumps(header, separators=(',', ':')).encode()
    head += b' ' * (-len(head) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(head)) + head + b''.join(blobs))


def read_safetensors(path):
    with open(path, 'rb') as f:
        data = f.read()
    (n,) = struct.unpack_from('<Q', data)
    header = json.loads(data[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == '__metadata__':
            continue
        a, b = info['data_offsets']
        out[name] = torch.from_numpy(np.frombuffer(data[8 + n + a:8 + n + b], dtype=NP_TYPES[info['dtype']]).reshape(info['shape']).copy())
    return out


def write_sharded(folder, sd, kind, shards=3):
    """Hugging Face's layout: consecutive chunks of the state_dict in shards, and an index whose weight_map is sorted."""
    os.makedirs(folder, exist_ok=True)
    keys = list(sd)
    bounds = np.linspace(0, len(keys), shards + 1).astype(int)
    weight_map = {}
    prefix, ext = ('model', 'safetensors') if kind == 'safetensors' else ('pytorch_model', 'bin')
    for i in range(shards):
        file = f'{prefix}-{i + 1:05d}-of-{shards:05d}.{ext}'
        chunk = {k: sd[k] for k in keys[bounds[i]:bounds[i + 1]]}
        if kind == 'safetensors':
            write_safetensors(os.path.join(folder, file), chunk)
        else:
            torch.save(chunk, os.path.join(folder, file))
        weight_map.update({k: file for k in chunk})
    index = f'{prefix}.{ext}.index.json'
    total = sum(t.numel() * t.element_size() for t in sd.values())
    with open(os.path.join(folder, index), 'w') as f:
        json.dump({'metadata': {'total_size': total}, 'weight_map': weight_map}, f, indent=2, sort_keys=True)
    return index


def make(out):
    manifest = {'marker': os.path.join(out, MARKER_NAME)}

    # 1. torch.nn.utils.prune on a ResNet-18: l1_unstructured, ln_structured, and both on one layer.
    torch.manual_seed(1)
    model = torchvision.models.resnet18(weights=None).eval()
    names = conv_names(model)
    rng = np.random.default_rng(1)
    methods = {}
    for i, name in enumerate(names):
        module = model.get_submodule(name)
        if i % 3 == 0:
            prune.l1_unstructured(module, 'weight', amount=float(rng.choice([0.5, 0.9, 0.97, 0.99])))
            methods[name] = 'l1_unstructured'
        elif i % 3 == 1:
            prune.ln_structured(module, 'weight', amount=float(rng.choice([0.25, 0.5, 0.75])), n=2, dim=int(rng.integers(0, 2)))
            methods[name] = 'ln_structured'
        else:
            methods[name] = 'dense'
    prune.l1_unstructured(model.get_submodule(names[1]), 'weight', amount=0.6)  # a second round: a PruningContainer
    methods[names[1]] = 'ln_structured+l1_unstructured'
    sd = model.state_dict()
    torch.save(sd, os.path.join(out, 'resnet18-pruned.pt'))
    manifest['pruned'] = {'file': 'resnet18-pruned.pt', 'layers': names, 'methods': methods, 'expected': stats(effective(sd, names))}

    # 2. One sparse ResNet-18 in every other form.
    sparse = sparse_resnet(2)
    names = conv_names(sparse)
    sd = {k: v.clone() for k, v in sparse.state_dict().items()}  # a snapshot: the optimizer step below updates the model
    torch.save(sd, os.path.join(out, 'resnet18.pt'))
    st_index = write_sharded(os.path.join(out, 'sharded-st'), sd, 'safetensors')
    bin_index = write_sharded(os.path.join(out, 'sharded-bin'), sd, 'bin')
    for broken, drop in (('sharded-missing', 2), ('sharded-truncated', None)):
        write_sharded(os.path.join(out, broken), sd, 'safetensors')
        shard = os.path.join(out, broken, 'model-00002-of-00003.safetensors')
        if drop:
            os.remove(shard)
        else:
            with open(shard, 'r+b') as f:
                f.truncate(os.path.getsize(shard) // 2)
    torch.save(sparse, os.path.join(out, 'resnet18-whole.pt'))
    torch.save(sd, os.path.join(out, 'resnet18-legacy.pt'), _use_new_zipfile_serialization=False)
    torch.save(nn.DataParallel(sparse).state_dict(), os.path.join(out, 'resnet18-dataparallel.pt'))
    optimizer = torch.optim.SGD(sparse.parameters(), lr=0.1, momentum=0.9)
    sparse(torch.randn(2, 3, 32, 32)).sum().backward()
    optimizer.step()
    optimizer.zero_grad()
    sd_after = {k: v.clone() for k, v in sparse.state_dict().items()}
    torch.save({'epoch': 3, 'global_step': 120, 'pytorch-lightning_version': '2.1.0',
                'state_dict': {f'model.{k}': v for k, v in sd_after.items()},
                'optimizer_states': [optimizer.state_dict()], 'lr_schedulers': [],
                'hyper_parameters': {'lr': 0.1, 'arch': 'resnet18'}}, os.path.join(out, 'resnet18-lightning.ckpt'))
    manifest['resnet18'] = {
        'file': 'resnet18.pt', 'layers': names, 'expected': stats(effective(sd, names)),
        'shardedSafetensors': f'sharded-st/{st_index}', 'shardedBin': f'sharded-bin/{bin_index}',
        'missingShard': 'sharded-missing/model.safetensors.index.json', 'truncatedShard': 'sharded-truncated/model.safetensors.index.json',
        'whole': 'resnet18-whole.pt', 'legacy': 'resnet18-legacy.pt', 'dataparallel': 'resnet18-dataparallel.pt',
        'lightning': 'resnet18-lightning.ckpt', 'lightningExpected': stats([(f'model.{n}', w) for n, w in effective(sd_after, names)]),
    }

    # 3. A class defined in this script, saved whole; torch.load with the class would create the marker.
    torch.manual_seed(3)
    custom = CustomNet().eval()
    with torch.no_grad():
        for module in custom.modules():
            if isinstance(module, nn.Conv2d):
                module.weight[torch.rand_like(module.weight) < 0.8] = 0
    custom.marker_path = manifest['marker']
    torch.save(custom, os.path.join(out, 'custom-whole.pt'))
    torch.save(custom.state_dict(), os.path.join(out, 'custom-sd.pt'))
    names = conv_names(custom)
    manifest['custom'] = {'file': 'custom-whole.pt', 'stateDict': 'custom-sd.pt', 'layers': names, 'expected': stats(effective(custom.state_dict(), names))}

    # 4. A torch.ao quantized CNN (per-channel int8 weights), with zeros before quantization.
    torch.backends.quantized.engine = 'qnnpack'
    torch.manual_seed(4)
    qmodel = QuantCNN().eval()
    with torch.no_grad():
        for module in (qmodel.conv1, qmodel.conv2, qmodel.conv3):
            module.weight[torch.rand_like(module.weight) < 0.9] = 0
    qmodel.qconfig = torch.ao.quantization.QConfig(activation=torch.ao.quantization.default_observer,
                                                   weight=torch.ao.quantization.default_per_channel_weight_observer)
    prepared = torch.ao.quantization.prepare(qmodel)
    prepared(torch.randn(8, 3, 16, 16))
    qsd = torch.ao.quantization.convert(prepared).state_dict()
    torch.save(qsd, os.path.join(out, 'quantized.pt'))
    names = ['conv1', 'conv2', 'conv3']
    manifest['quantized'] = {'file': 'quantized.pt', 'layers': names, 'expected': stats(effective(qsd, names))}

    # 5. The digits CNN for the engine: pruned with torch.nn.utils.prune, and saved whole from a module
    #    of the user's (importing it, or unpickling its class, creates the marker).
    from crossbar_lens_train.models import DigitsCNN, extract_state_dict, load_checkpoint
    digits = extract_state_dict(load_checkpoint(os.path.join(REPO, 'examples', 'digits-cnn.pt')), 'digits')
    pruned = DigitsCNN()
    pruned.load_state_dict(digits)
    prune.l1_unstructured(pruned.conv2, 'weight', amount=0.5)
    prune.ln_structured(pruned.conv3, 'weight', amount=0.25, n=1, dim=0)
    torch.save(pruned.state_dict(), os.path.join(out, 'digits-pruned.pt'))
    users = os.path.join(out, 'users')
    os.makedirs(users, exist_ok=True)
    with open(os.path.join(users, 'users_digits.py'), 'w') as f:
        f.write('from crossbar_lens_train.models import DigitsCNN\n'
                f'open({manifest["marker"]!r}, "w").close()\n\n\n'
                'class UsersDigits(DigitsCNN):\n    pass\n')
    sys.path.insert(0, users)
    import users_digits
    whole = users_digits.UsersDigits()
    whole.load_state_dict(digits)
    torch.save(whole, os.path.join(out, 'digits-whole.pt'))
    os.remove(manifest['marker'])
    manifest['digits'] = {'pruned': 'digits-pruned.pt', 'whole': 'digits-whole.pt', 'usersModules': users}

    with open(os.path.join(out, 'manifest.json'), 'w') as f:
        json.dump(manifest, f)


# ---- checks of what `crossbar-lens prune` wrote ---------------------------------------------------

def load(path):
    """torch.load of a file the CLI wrote: a state_dict, so weights_only=True must do."""
    return torch.load(path, map_location='cpu', weights_only=True)


def check(kind, inp, output, reference):
    """Returns {'stats': NumPy reference of the output's effective weights at T=64, ...} or raises."""
    report = {}
    if kind == 'prune-masks':
        before, after = load(inp), load(output)
        assert list(after) == list(before), 'the output has the same tensors, in the same order'
        names = [k[:-len('.weight_orig')] for k in after if k.endswith('.weight_orig')]
        assert names, 'the output still holds torch.nn.utils.prune pairs'
        for n in names:
            old_mask, mask, old_orig, orig = before[n + '.weight_mask'], after[n + '.weight_mask'], before[n + '.weight_orig'], after[n + '.weight_orig']
            assert bool(((mask == 0) | (mask == 1)).all()), f'{n}: the mask is 0/1'
            assert bool((mask <= old_mask).all()), f'{n}: the new mask is within the old one (old mask AND new mask)'
            assert bool((orig[mask == 0] == 0).all()), f'{n}: weight_orig is zero wherever the mask is'
            assert torch.equal(orig[mask == 1], old_orig[mask == 1]), f'{n}: kept weights are unchanged'
        # The pruned checkpoint loads into the same pruned model, and it runs.
        model = torchvision.models.resnet18(weights=None).eval()
        for n in names:
            prune.identity(model.get_submodule(n), 'weight')
        model.load_state_dict(after, strict=True)
        with torch.no_grad():
            assert bool(torch.isfinite(model(torch.randn(1, 3, 64, 64))).all())
        report['reparametrised'] = names
        sd, layer_names = after, [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    elif kind in ('state-dict', 'legacy'):
        with open(output, 'rb') as f:
            assert zipfile.is_zipfile(f) == (kind == 'state-dict'), 'legacy in, legacy out; a whole model becomes a zip state_dict'
        sd = load(output)
        ref = load(reference)
        assert isinstance(sd, dict) and list(sd) == list(ref), f'the state_dict keys: {list(sd)[:4]} vs {list(ref)[:4]}'
        layer_names = [k[:-len('.weight')] for k, v in sd.items() if k.endswith('.weight') and v.dim() == 4]
    elif kind == 'quantized':
        # weights_only cannot rebuild quantized tensors; these two files were written by this script and the CLI.
        sd, ref = torch.load(output, map_location='cpu'), torch.load(inp, map_location='cpu')
        layer_names = ['conv1', 'conv2', 'conv3']
        for n in layer_names:
            w, r = sd[n + '.weight'], ref[n + '.weight']
            assert w.is_quantized and torch.equal(w.q_per_channel_scales(), r.q_per_channel_scales()), f'{n}: still quantized with the same scales'
            kept = w.int_repr() != w.q_per_channel_zero_points().view(-1, 1, 1, 1)
            assert torch.equal(w.int_repr()[kept], r.int_repr()[kept]), f'{n}: kept integers unchanged'
    elif kind in ('sharded-st', 'sharded-bin'):
        with open(output) as f:
            index = json.load(f)
        folder = os.path.dirname(output)
        sd = {}
        for file in dict.fromkeys(index['weight_map'].values()):
            sd.update(read_safetensors(os.path.join(folder, file)) if kind == 'sharded-st' else load(os.path.join(folder, file)))
        ref = load(reference)
        assert set(sd) == set(ref), 'every tensor of the index is in its shards'
        layer_names = [k[:-len('.weight')] for k in ref if k.endswith('.weight') and ref[k].dim() == 4]
    else:
        raise SystemExit(f'unknown check {kind}')
    report['stats'] = reference_stats.model_stats(effective(sd, layer_names), 64)
    return report


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out')
    parser.add_argument('--check')
    parser.add_argument('--input')
    parser.add_argument('--output')
    parser.add_argument('--reference')
    args = parser.parse_args()
    torch.set_num_threads(2)
    if args.check:
        print(json.dumps(check(args.check, args.input, args.output, args.reference)))
    else:
        os.makedirs(args.out, exist_ok=True)
        make(args.out)


if __name__ == '__main__':
    main()

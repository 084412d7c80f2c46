"""Writes the HDF5 reader's fixtures with real h5py into --out, plus expected.json (every group's
children, every dataset's shape/dtype/values and every attribute, as h5py reads them).

Run with Debian's /usr/bin/python3 (h5py 3.7, HDF5 1.10). `--describe FILE` prints the
description of one file instead (the patch tests re-read their output with it)."""
import argparse
import io
import json
import os
import sys
import zipfile

import h5py
import numpy as np

rng = np.random.default_rng(7)


def values(shape, dtype):
    a = rng.standard_normal(shape) * 3
    if np.dtype(dtype).kind in 'iu':
        a = rng.integers(-100 if np.dtype(dtype).kind == 'i' else 0, 100, shape)
    return np.asarray(a).astype(dtype)


def common(f, latest):
    """The content both 'earliest' and 'latest' files hold."""
    f.attrs['title'] = 'fixture'                      # vlen str scalar
    f.attrs['fixed'] = np.bytes_(b'fixed-bytes')       # 'S11' scalar
    f.attrs['names'] = np.array([b'conv2d', b'dense_1', b'x'])   # 'S7' array
    f.attrs['vnames'] = ['alpha', 'beta', 'gamma\u00e9']          # vlen str array
    f.attrs['count'] = np.int64(-42)
    f.attrs['ratio'] = np.float64(0.1)
    f.attrs['floats'] = np.array([1.5, -2.25, 3.0], dtype='>f4')
    f.attrs['shorts'] = np.array([1, -2, 3], dtype='<i2')
    f.attrs['unsigned'] = np.array([1, 65535], dtype='<u2')
    f.attrs['half'] = np.float16(0.333)
    f.attrs['flag'] = np.bool_(True)
    g = f.create_group('types')
    for dt in ['<f2', '<f4', '<f8', '>f4', '>f8', '>f2', '<i1', '<i2', '<i4', '<i8', '>i4', '<u1', '<u2', '<u4', '<u8']:
        g.create_dataset(dt.replace('<', 'le_').replace('>', 'be_'), data=values((3, 5), dt))
    g.create_dataset('scalar', data=np.float32(2.5))
    g.create_dataset('empty', data=np.zeros((0, 3), 'f4'))
    g.create_dataset('long', data=values((1000,), 'f4'))
    c = f.create_group('chunked')
    c.create_dataset('gzip_shuffle', data=values((37, 19), 'f4'), chunks=(8, 5), compression='gzip', shuffle=True)
    c.create_dataset('gzip_f64', data=values((10, 3, 4), 'f8'), chunks=(4, 3, 3), compression='gzip', compression_opts=9)
    c.create_dataset('plain', data=values((9, 7), '<f4'), chunks=(4, 4))
    c.create_dataset('plain_be', data=values((9, 7), '>f8'), chunks=(4, 3))
    c.create_dataset('fletcher', data=values((20,), 'f4'), chunks=(6,), fletcher32=True)
    c.create_dataset('single', data=values((6, 6), 'f4'), chunks=(6, 6), compression='gzip')
    c.create_dataset('many', data=values((2000,), 'f2'), chunks=(1,))
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_layout(h5py.h5d.COMPACT)
    f.create_dataset('compact', data=values((4, 3), 'f4'), dcpl=dcpl)
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_layout(h5py.h5d.COMPACT)
    f.create_dataset('compact_f16', data=values((5,), '<f2'), dcpl=dcpl)
    wide = f.create_group('wide')
    for i in range(30):
        wide.create_dataset(f'd{i:02d}', data=np.full((2,), i, 'f4'))
    for i in range(12):
        wide.attrs[f'a{i:02d}'] = i
    f['link_to_long'] = h5py.SoftLink('/types/long')
    f['soft_loop'] = h5py.SoftLink('/soft_loop')
    f['loop'] = f['types']   # a second hard link: a legal cycle-free alias
    f['types']['parent'] = f  # a hard link back to the root: a legal cycle


def earliest(path):
    with h5py.File(path, 'w', libver='earliest') as f:
        common(f, False)
        o = f.create_group('ordered', track_order=True)
        for name in ['zeta', 'alpha', 'mid', 'beta']:
            o.create_dataset(name, data=np.zeros(1, 'f4'))


def latest(path):
    with h5py.File(path, 'w', libver='latest') as f:
        common(f, True)
        o = f.create_group('ordered', track_order=True)
        for i, name in enumerate(['zeta', 'alpha', 'mid', 'beta'] + [f'n{j}' for j in range(20, 0, -1)]):
            o.create_dataset(name, data=np.full(1, i, 'f4'))
        big = f.create_group('big_attrs')
        big.attrs['model_config'] = '{"x": "' + 'y' * 100000 + '"}'
        big.attrs['numbers'] = np.arange(20000, dtype='<f4')
        big.attrs['small'] = 3
        f.create_dataset('resizable', data=np.zeros((4, 2), 'f4'), maxshape=(None, 2), chunks=(2, 2))
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        dcpl.set_chunk((2, 3))
        dcpl.set_alloc_time(h5py.h5d.ALLOC_TIME_EARLY)
        f.create_dataset('implicit', data=values((5, 7), 'f4'), dcpl=dcpl)


def userblock(path):
    with h5py.File(path, 'w', userblock_size=1024) as f:
        f.create_dataset('x', data=values((3,), 'f4'))
        f.attrs['a'] = 'b'


def keras2(path):
    """The layout of Keras 2's model.save('m.h5') (legacy_h5_format / hdf5_format)."""
    layers = {'conv2d': [('kernel:0', (3, 3, 1, 4)), ('bias:0', (4,))],
              'dense': [('kernel:0', (36, 10)), ('bias:0', (10,))],
              'flatten': []}
    config = {'class_name': 'Sequential', 'config': {'name': 'sequential', 'layers': [{'class_name': 'Conv2D', 'config': {'name': 'conv2d', 'filters': 4}}]}}
    with h5py.File(path, 'w') as f:
        f.attrs['keras_version'] = '2.13.1'
        f.attrs['backend'] = 'tensorflow'
        f.attrs['model_config'] = json.dumps(config).encode('utf8')
        f.attrs['training_config'] = json.dumps({'loss': 'mse'}).encode('utf8')
        mw = f.create_group('model_weights')
        mw.attrs['layer_names'] = np.array([n.encode() for n in layers])
        mw.attrs['backend'] = b'tensorflow'
        mw.attrs['keras_version'] = b'2.13.1'
        for name, weights in layers.items():
            g = mw.create_group(name)
            g.attrs['weight_names'] = np.array([f'{name}/{w}'.encode() for w, _ in weights])
            for w, shape in weights:
                g.create_dataset(f'{name}/{w}', data=values(shape, 'f4'))
        ow = f.create_group('optimizer_weights')
        ow.attrs['weight_names'] = np.array([b'Adam/iter:0'])
        ow.create_dataset('Adam/iter:0', data=np.int64(12))


def keras3(path):
    """Keras 3's model.weights.h5 (H5IOStore) and Keras 2.13's _layer_checkpoint_dependencies."""
    with h5py.File(path, 'w') as f:
        for i, (name, shapes) in enumerate([('conv2d', [(3, 3, 1, 4), (4,)]), ('dense', [(36, 10), (10,)])]):
            v = f.create_group(f'layers/{name}/vars')
            for j, shape in enumerate(shapes):
                v.create_dataset(str(j), data=values(shape, 'f4'))
        f.create_group('layers/flatten/vars')
        o = f.create_group('optimizer/vars')
        o.create_dataset('0', data=np.int64(3))
        f.attrs['keras_version'] = '3.3.3'


def keras213(path):
    with h5py.File(path, 'w') as f:
        v = f.create_group('_layer_checkpoint_dependencies/conv2d/vars')
        v.create_dataset('0', data=values((3, 3, 1, 4), 'f4'))
        v.create_dataset('1', data=values((4,), 'f4'))


def small_latest(path):
    """A small libver='latest' file with every new-style structure (fuzzed by the malformed tests)."""
    with h5py.File(path, 'w', libver='latest') as f:
        g = f.create_group('dense', track_order=True)
        for i in range(10):
            g.create_dataset(f'd{i}', data=np.full((2,), i, 'f4'))
        for i in range(10):
            g.attrs[f'a{i}'] = f'value {i}'
        g.attrs['huge'] = 'h' * 5000
        f.create_dataset('gzip', data=values((6, 5), 'f4'), chunks=(4, 2), compression='gzip', shuffle=True)
        f.create_dataset('chunks', data=values((6, 5), '>f8'), chunks=(4, 2))
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        dcpl.set_layout(h5py.h5d.COMPACT)
        f.create_dataset('compact', data=values((3,), 'f2'), dcpl=dcpl)
        f.attrs['names'] = np.array([b'a', b'bc'])


def keras_zip(path):
    """A Keras 3 .keras archive: config.json, metadata.json and model.weights.h5 (deflated)."""
    weights = path + '.weights.h5'
    keras3(weights)
    with zipfile.ZipFile(path, 'w', compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr('metadata.json', json.dumps({'keras_version': '3.3.3'}))
        z.writestr('config.json', json.dumps({'class_name': 'Sequential'}))
        z.write(weights, 'model.weights.h5')
    os.remove(weights)


def small_sizes(path):
    """4-byte addresses and lengths (H5Pset_sizes) in an old-style file."""
    fcpl = h5py.h5p.create(h5py.h5p.FILE_CREATE)
    fcpl.set_sizes(4, 4)
    with h5py.File(h5py.h5f.create(path.encode(), h5py.h5f.ACC_TRUNC, fcpl=fcpl)) as f:
        f.create_dataset('g/x', data=values((4, 3), 'f4'))
        f.create_dataset('g/z', data=values((9, 2), '<f8'), chunks=(2, 2), compression='gzip')
        f['g'].attrs['names'] = ['a', 'bb']
        f.attrs['version'] = '1.0'


def plain(v):
    if isinstance(v, bytes):
        return v.decode('utf8')
    if isinstance(v, np.ndarray):
        return [plain(x) for x in v.reshape(-1)]
    if isinstance(v, np.bool_):
        return int(v)
    if isinstance(v, np.generic):
        return plain(v.item())
    return v


def dtype_name(dt):
    return dt.str if dt.kind != 'O' else 'object'


def describe(path):
    out = {'groups': {}, 'datasets': {}, 'attrs': {}}
    if path.endswith('.keras'):
        with zipfile.ZipFile(path) as z:
            path = io.BytesIO(z.read('model.weights.h5'))
    with h5py.File(path, 'r') as f:
        def visit(name, obj):
            out['attrs'][name] = {k: plain(obj.attrs[k]) for k in obj.attrs}
            if isinstance(obj, h5py.Group):
                out['groups'][name] = [k for k in obj if isinstance(obj.get(k, getlink=True), h5py.HardLink)]
            else:
                data = obj[()]
                out['datasets'][name] = {
                    'shape': list(obj.shape), 'dtype': dtype_name(obj.dtype),
                    'values': [float(x) for x in np.asarray(data, dtype='f8').reshape(-1)] if obj.dtype.kind in 'fiu' else None,
                    'layout': obj.id.get_create_plist().get_layout(),
                }
        visit('', f)
        f.visititems(visit)
    return out


MAKERS = {'earliest.h5': earliest, 'latest.h5': latest, 'userblock.h5': userblock, 'keras2.h5': keras2,
          'keras3.weights.h5': keras3, 'keras213.weights.h5': keras213,
          'small_latest.h5': small_latest, 'small_sizes.h5': small_sizes, 'model.keras': keras_zip}

if __name__ == '__main__':
    parser = argparse.ArgumentParser()
    parser.add_argument('--out')
    parser.add_argument('--describe')
    args = parser.parse_args()
    if args.describe:
        json.dump(describe(args.describe), sys.stdout)
        sys.exit(0)
    expected = {}
    for name, make in MAKERS.items():
        make(os.path.join(args.out, name))
        expected[name] = describe(os.path.join(args.out, name))
    with open(os.path.join(args.out, 'expected.json'), 'w') as fh:
        json.dump(expected, fh)

"""Writes the example digits CNN (examples/digits-cnn.pt) as the two Keras files Crossbar Lens reads:

    examples/digits-cnn.h5      Keras 2's model.save('m.h5'): model_config + model_weights/<layer>/<layer>/kernel:0
    examples/digits-cnn.keras   Keras 3's model.save('m.keras'): a zip of config.json, metadata.json and
                                model.weights.h5 (layers/<class, snake case, _1, _2, ...>/vars/<i>)

    /usr/bin/python3 scripts/make_keras_example.py [--src examples/digits-cnn.pt] [--out DIR] [--name digits-cnn]

Keras itself is not packaged for Debian and nothing is fetched from the network here, so the files are
written with h5py (python3-h5py) in the layouts Keras 2.13 and Keras 3 write, with the same layer configs
(channels_last Conv2D/MaxPooling2D/Flatten/Dense, named stem, body, head, classifier: Keras 2 stores
weights by layer name, Keras 3 by class and position, as its saving_lib does). The weights are the PyTorch model's, converted:
conv OIHW -> HWIO, and the classifier's rows permuted from PyTorch's (c, h, w) flatten order to Keras's
(h, w, c), so every file computes the same function as the .pt.
"""
import argparse
import json
import os
import re
import sys
import tempfile
import zipfile

import h5py
import numpy as np

INPUT = [None, 8, 8, 1]


def initializer(name, **config):
    return {'class_name': name, 'config': {'seed': None, **config}}


def layer_configs():
    """(class, config) of each layer of examples/train_digits.py's CNN, as Keras writes them."""
    conv = lambda name, filters: ('Conv2D', {
        'name': name, 'trainable': True, 'dtype': 'float32', 'filters': filters, 'kernel_size': [3, 3],
        'strides': [1, 1], 'padding': 'same', 'data_format': 'channels_last', 'dilation_rate': [1, 1],
        'groups': 1, 'activation': 'relu', 'use_bias': True,
        'kernel_initializer': initializer('GlorotUniform'), 'bias_initializer': {'class_name': 'Zeros', 'config': {}},
        'kernel_regularizer': None, 'bias_regularizer': None, 'activity_regularizer': None,
        'kernel_constraint': None, 'bias_constraint': None})
    pool = lambda name: ('MaxPooling2D', {'name': name, 'trainable': True, 'dtype': 'float32', 'pool_size': [2, 2],
                                          'padding': 'valid', 'strides': [2, 2], 'data_format': 'channels_last'})
    return [
        ('InputLayer', {'name': 'input_1', 'batch_input_shape': INPUT, 'dtype': 'float32', 'sparse': False, 'ragged': False}),
        conv('stem', 16), conv('body', 32), pool('pool1'), conv('head', 32), pool('pool2'),
        ('Flatten', {'name': 'flatten', 'trainable': True, 'dtype': 'float32', 'data_format': 'channels_last'}),
        ('Dense', {'name': 'classifier', 'trainable': True, 'dtype': 'float32', 'units': 10, 'activation': 'linear',
                   'use_bias': True, 'kernel_initializer': initializer('GlorotUniform'),
                   'bias_initializer': {'class_name': 'Zeros', 'config': {}}, 'kernel_regularizer': None,
                   'bias_regularizer': None, 'activity_regularizer': None, 'kernel_constraint': None,
                   'bias_constraint': None}),
    ]


def snake_case(name):
    """keras.src.utils.naming.to_snake_case."""
    name = re.sub(r'\W+', '', name)
    name = re.sub('(.)([A-Z][a-z]+)', r'\1_\2', name)
    return re.sub('([a-z])([A-Z])', r'\1_\2', name).lower()


def keras_weights(state):
    """Layer name -> [(weight name, array)] in Keras layouts."""
    conv = lambda key: [('kernel', state[f'{key}.weight'].numpy().transpose(2, 3, 1, 0).copy()),
                        ('bias', state[f'{key}.bias'].numpy().copy())]
    fc = state['fc.weight'].numpy()  # (10, 32*2*2) in (c, h, w) order
    c, h, w = 32, 2, 2
    rows = [fc[:, ci * h * w + hi * w + wi] for hi in range(h) for wi in range(w) for ci in range(c)]
    return {'stem': conv('conv1'), 'body': conv('conv2'), 'head': conv('conv3'),
            'classifier': [('kernel', np.stack(rows).astype(np.float32)), ('bias', state['fc.bias'].numpy().copy())]}


def write_h5(path, weights):
    config = {'class_name': 'Sequential', 'config': {'name': 'sequential', 'layers': [
        {'class_name': cls, 'config': cfg} for cls, cfg in layer_configs()]}}
    with h5py.File(path + '.tmp', 'w') as f:
        f.attrs['keras_version'] = '2.13.1'
        f.attrs['backend'] = 'tensorflow'
        f.attrs['model_config'] = json.dumps(config)
        group = f.create_group('model_weights')
        names = [cfg['name'] for cls, cfg in layer_configs() if cls != 'InputLayer']
        group.attrs['layer_names'] = np.array([n.encode() for n in names])
        group.attrs['backend'] = b'tensorflow'
        group.attrs['keras_version'] = b'2.13.1'
        for name in names:
            layer = group.create_group(name)
            entries = weights.get(name, [])
            layer.attrs['weight_names'] = np.array([f'{name}/{w}:0'.encode() for w, _ in entries], dtype='S')
            for w, values in entries:
                layer.create_dataset(f'{name}/{w}:0', data=values)
    os.replace(path + '.tmp', path)


def write_keras(path, weights):
    policy = {'module': 'keras', 'class_name': 'DTypePolicy', 'config': {'name': 'float32'}, 'registered_name': None}
    layers = []
    for cls, cfg in layer_configs():
        cfg = dict(cfg)
        if cls == 'InputLayer':
            cfg = {'batch_shape': cfg['batch_input_shape'], 'dtype': 'float32', 'sparse': False, 'name': 'input_layer'}
        else:
            cfg['dtype'] = policy
        layers.append({'module': 'keras.layers', 'class_name': cls, 'config': cfg, 'registered_name': None})
    config = {'module': 'keras', 'class_name': 'Sequential', 'config': {
        'name': 'sequential', 'trainable': True, 'dtype': policy, 'layers': layers, 'build_input_shape': INPUT},
        'registered_name': None, 'build_config': {'input_shape': INPUT}, 'compile_config': None}
    with tempfile.TemporaryDirectory() as tmp:
        h5 = os.path.join(tmp, 'model.weights.h5')
        with h5py.File(h5, 'w') as f:
            # saving_lib names a Sequential's layers by class, not by name: conv2d, conv2d_1, ...
            used = {}
            for cls, cfg in layer_configs():
                if cls == 'InputLayer':
                    continue
                base = snake_case(cls)
                where = base if base not in used else f'{base}_{used[base]}'
                used[base] = used.get(base, 0) + 1
                group = f.create_group(f'layers/{where}/vars')
                for i, (_, values) in enumerate(weights.get(cfg['name'], [])):
                    group.create_dataset(str(i), data=values)
            f.create_group('optimizer/vars')
        tmp_zip = path + '.tmp'
        with zipfile.ZipFile(tmp_zip, 'w') as z:  # stored, as Keras writes it
            z.writestr('metadata.json', json.dumps({'keras_version': '3.3.3', 'date_saved': '2026-11-26@00:00:00'}))
            z.writestr('config.json', json.dumps(config))
            z.write(h5, 'model.weights.h5')
        os.replace(tmp_zip, path)


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--src', default=os.path.join(root, 'examples', 'digits-cnn.pt'))
    p.add_argument('--out', default=os.path.join(root, 'examples'))
    p.add_argument('--name', default='digits-cnn')
    args = p.parse_args()
    sys.path.insert(0, os.path.join(root, 'python'))
    from crossbar_lens_train.models import load_checkpoint  # the restricted unpickler
    state = load_checkpoint(args.src)
    state = state.get('model', state.get('state_dict', state))
    weights = keras_weights(state)
    os.makedirs(args.out, exist_ok=True)
    for ext, write in (('.h5', write_h5), ('.keras', write_keras)):
        path = os.path.join(args.out, args.name + ext)
        write(path, weights)
        print(f'wrote {path}')


if __name__ == '__main__':
    main()

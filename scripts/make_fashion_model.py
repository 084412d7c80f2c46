"""Writes examples/fashion-cnn.onnx: the Fashion-MNIST CNN of the PyTorch engine
(crossbar_lens_train.models.FashionCNN: seven 3x3 convolutions with BatchNorm, 16 -> 128 channels)
as a starting model for the TensorFlow.js engine, exported by torch.onnx.export.

It is a *briefly trained* start point, not a finished model: a seeded init trained for --steps SGD
steps (default 300, batch 128, about 0.6 of an epoch) on Fashion-MNIST's training images, which
reaches about 85 % on the official test set. Training it further is what "Run D.U.B. fine-tune"
and `npm run repro:fashion` do. (A freshly initialized export would not do: every BatchNorm starts
with running mean 0 and variance 1, torch.onnx.export shares such equal initializers, and a
trainable graph needs each parameter as its own initializer.)

    /usr/bin/python3 scripts/make_fashion_model.py [--out examples/fashion-cnn.onnx] [--pt also.pt]
                                                   [--steps 300] [--data fashion-mnist] [--seed 0]

Needs torch and onnx (Debian: python3-torch, python3-onnx) and Debian's dataset-fashion-mnist (or
--data with a folder of the IDX files); about a minute on two CPU cores.
"""
import argparse
import os
import sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'python'))

from crossbar_lens_train.checkpoint import atomic_save  # noqa: E402
from crossbar_lens_train.data import Transform, batches, open_dataset  # noqa: E402
from crossbar_lens_train.models import FashionCNN  # noqa: E402


def accuracy(model, dataset, transform):
    model.eval()
    correct = 0
    with torch.no_grad():
        for x, y in batches(dataset, 1000, transform, train=False):
            correct += int((model(x).argmax(1) == y).sum())
    return 100.0 * correct / len(dataset)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--out', default=os.path.join(HERE, '..', 'examples', 'fashion-cnn.onnx'))
    ap.add_argument('--pt', help='also write the same weights as a state_dict (torch.save) here')
    ap.add_argument('--steps', type=int, default=300)
    ap.add_argument('--data', default='fashion-mnist')
    ap.add_argument('--seed', type=int, default=0)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(min(2, torch.get_num_threads()))
    splits = open_dataset(args.data)
    model = FashionCNN(num_classes=10)
    transform = Transform()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    step = 0
    epoch = 0
    while step < args.steps:
        model.train()
        for x, y in batches(splits.train, 128, transform, train=True, seed=args.seed, epoch=epoch):
            optimizer.zero_grad()
            F.cross_entropy(model(x), y).backward()
            optimizer.step()
            step += 1
            if step >= args.steps:
                break
        epoch += 1
    print(f'{args.steps} steps: {accuracy(model, splits.test, transform):.2f} % on the {len(splits.test)} held-out images')
    model.eval()
    tmp = args.out + '.tmp'
    # PRESERVE keeps every BatchNormalization as its own node (EVAL would fold it into the convs),
    # with its running statistics, which the tfjs engine updates while it trains.
    torch.onnx.export(model, torch.zeros(1, 1, 28, 28), tmp, input_names=['image'], output_names=['logits'],
                      opset_version=13, training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False,
                      dynamic_axes={'image': {0: 'batch'}, 'logits': {0: 'batch'}})
    os.replace(tmp, args.out)
    print(f'wrote {args.out}')
    if args.pt:
        atomic_save(model.state_dict(), args.pt, force=True)
        print(f'wrote {args.pt}')


if __name__ == '__main__':
    main()

"""Train a small CNN on scikit-learn's 8x8 digits and save the bundled example model.

    /usr/bin/python3 examples/train_digits.py            # writes examples/digits-cnn.pt and .onnx
    /usr/bin/python3 examples/train_digits.py --out DIR  # writes them into DIR instead

The dataset (1797 real 8x8 handwritten digits) ships with scikit-learn, so nothing is downloaded.
Open this file in VS Code with Crossbar Lens installed: after `digits-cnn.pt` is analysed, the
CodeLens above each nn.Conv2d line shows how that layer maps onto 16x16 or 64x64 crossbars.
"""
import argparse
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

SEED = 0
EPOCHS = 25
BATCH_SIZE = 64


class DigitsCNN(nn.Module):
    """Three 3x3 convolutions (1 -> 16 -> 32 -> 32 channels) and a linear classifier."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)   # 8x8 -> 8x8, matrix 16 x 9
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)  # 8x8 -> 4x4 after pooling, matrix 32 x 144
        self.conv3 = nn.Conv2d(32, 32, 3, padding=1)  # 4x4 -> 2x2 after pooling, matrix 32 x 288
        self.fc = nn.Linear(32 * 2 * 2, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.max_pool2d(F.relu(self.conv3(x)), 2)
        return self.fc(torch.flatten(x, 1))


def load_data():
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[:, None, :, :]  # N x 1 x 8 x 8, in [0, 1]
    labels = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        images, labels, test_size=0.2, stratify=labels, random_state=SEED)
    return (torch.from_numpy(x_train), torch.from_numpy(y_train),
            torch.from_numpy(x_test), torch.from_numpy(y_test))


def accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default=os.path.dirname(os.path.abspath(__file__)),
                        help='folder for digits-cnn.pt and digits-cnn.onnx (default: next to this script)')
    parser.add_argument('--epochs', type=int, default=EPOCHS)
    args = parser.parse_args()

    torch.manual_seed(SEED)
    torch.set_num_threads(min(2, torch.get_num_threads()))
    x_train, y_train, x_test, y_test = load_data()

    model = DigitsCNN()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    generator = torch.Generator().manual_seed(SEED)
    for epoch in range(1, args.epochs + 1):
        model.train()
        order = torch.randperm(len(x_train), generator=generator)
        for start in range(0, len(order), BATCH_SIZE):
            batch = order[start:start + BATCH_SIZE]
            loss = F.cross_entropy(model(x_train[batch]), y_train[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        if epoch % 5 == 0 or epoch == args.epochs:
            print(f'epoch {epoch:2d}  loss {loss.item():.4f}  test accuracy {accuracy(model, x_test, y_test):.2%}')

    test_accuracy = accuracy(model, x_test, y_test)
    print(f'test accuracy: {test_accuracy:.2%} on {len(x_test)} held-out images')

    os.makedirs(args.out, exist_ok=True)
    checkpoint = os.path.join(args.out, 'digits-cnn.pt')
    torch.save({
        'epoch': args.epochs,
        'model': model.state_dict(),
        'optimizer': optimizer.state_dict(),
        'test_accuracy': test_accuracy,
    }, checkpoint)
    onnx_file = os.path.join(args.out, 'digits-cnn.onnx')
    model.eval()
    torch.onnx.export(model, torch.zeros(1, 1, 8, 8), onnx_file,
                      input_names=['image'], output_names=['logits'], opset_version=13)
    print(f'saved {checkpoint} and {onnx_file}')


if __name__ == '__main__':
    main()

"""Helper of pruneCrossCheck.test.ts (Debian's /usr/bin/python3 with torch and torchvision).

  make --out DIR            writes real torch checkpoints to prune: a torchvision ResNet18 (seeded),
                            the CIFAR VGG11 of the reference (seeded), a copy of examples/digits-cnn.pt;
                            prints a JSON manifest
  compare INPUT A B         compares the zero patterns of every conv weight (4-D float tensor of the
                            model state dict) of two pruned outputs, and that both kept the input's
                            other values; prints JSON
"""
import argparse
import json
import os
import shutil
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, os.path.join(REPO, "python"))

from crossbar_lens_train.models import extract_state_dict, load_checkpoint, vgg11_cifar  # noqa: E402


def make(out):
    import torchvision
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    torch.save(torchvision.models.resnet18().state_dict(), os.path.join(out, "resnet18.pt"))
    torch.manual_seed(1)
    torch.save({"model": vgg11_cifar().state_dict(), "epoch": 159}, os.path.join(out, "vgg11.pt"))
    shutil.copy(os.path.join(REPO, "examples", "digits-cnn.pt"), os.path.join(out, "digits.pt"))
    print(json.dumps({"files": ["resnet18.pt", "vgg11.pt", "digits.pt"]}))


def convs(path):
    sd = extract_state_dict(load_checkpoint(path), path)  # restricted unpickler
    return {k: v for k, v in sd.items() if v.dim() == 4 and v.is_floating_point()}, sd


def compare(inp, a, b):
    src, src_all = convs(inp)
    ca, sa = convs(a)
    cb, sb = convs(b)
    layers = []
    for k, w in src.items():
        za, zb = (ca[k] == 0), (cb[k] == 0)
        layers.append({"name": k, "zerosA": int(za.sum()), "zerosB": int(zb.sum()),
                       "differ": int((za != zb).sum()),
                       "keptA": bool(torch.equal(ca[k][~za], w[~za])), "keptB": bool(torch.equal(cb[k][~zb], w[~zb]))})
    others = all(torch.equal(sa[k], v) and torch.equal(sb[k], v) for k, v in src_all.items() if k not in src)
    print(json.dumps({"layers": layers, "othersUnchanged": others}))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("--out", required=True)
    c = sub.add_parser("compare")
    c.add_argument("input")
    c.add_argument("a")
    c.add_argument("b")
    args = p.parse_args()
    if args.cmd == "make":
        make(args.out)
    else:
        compare(args.input, args.a, args.b)


if __name__ == "__main__":
    main()

"""Training-step cost of the D.U.B. regularizer in the PyTorch engine (prints figures; asserts nothing).

    /usr/bin/python3 bench/train/pytorch_step.py [--iters 3] [--threads 2] [--device cuda]

For VGG11-CIFAR (batch 128, T = 32, the paper's headline setting) and ResNet18-CIFAR (3x3 stem, no
max-pool; batch 64, T = 64): the median time of a full SGD step (forward, backward, step) without the
regularizer, with the closed-form regularizer (crossbar_lens_train.regularizer: gradient added to
p.grad after backward; on a GPU replayed as one captured CUDA graph, and also timed kernel by kernel), and with the reference formulation through autograd (column convolution +
unfold + .var() with the gradient gate, as REPO:c1_Hoyer_and_variance_class.py); and the regularizer
alone. Goal: the closed form costs < 5 % of a step. The variants are timed in turns (paired), and the
figures are medians: on a shared machine a busy neighbour stalls torch's OpenMP barriers, which
hurts many small ops (the regularizer) far more than a few big ones (convolutions); compare
figures from one run, and prefer runs on an idle machine (`uptime` is printed).
"""
import argparse
import os
import platform
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))

from crossbar_lens_train.crossbar import CrossbarGeometry, conv_layers  # noqa: E402
from crossbar_lens_train.models import resnet18_cifar, vgg11_cifar  # noqa: E402
from crossbar_lens_train.regularizer import DubRegularizer, reference_dub_loss  # noqa: E402


def timed_round_robin(fns: dict, iters: int, sync=lambda: None) -> dict:
    """Median seconds per function; the functions take turns, so a load spike on this shared machine
    hits all of them alike (paired measurement)."""
    for fn in fns.values():
        fn()  # warm-up
    sync()
    times: dict = {k: [] for k in fns}
    for _ in range(iters):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            sync()
            times[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def bench(name: str, model: nn.Module, batch: int, tile: int, iters: int, device: torch.device, lam: float = 1e-3) -> dict:
    torch.manual_seed(0)
    model = model.to(device)
    x = torch.randn(batch, 3, 32, 32, device=device)
    y = torch.randint(0, 10, (batch,), device=device)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, weight_decay=1e-3)
    geo = CrossbarGeometry(tile)
    reg = DubRegularizer(geo, lam)
    weights = [m.weight for _, m in conv_layers(model)]

    def step(mode: str) -> None:
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        if mode == "reference":
            loss = loss + reference_dub_loss(weights, geo, lam)
        loss.backward()
        if mode == "closed":
            reg.apply(weights)
        opt.step()

    def closed_only() -> None:
        reg.loss_and_grads(weights)

    eager = DubRegularizer(geo, lam, cuda_graph=False)

    def closed_eager() -> None:
        eager.loss_and_grads(weights)

    def reference_only() -> None:
        for w in weights:
            w.grad = None
        reference_dub_loss(weights, geo, lam).backward()

    t = timed_round_robin({"plain": lambda: step("plain"), "closed": lambda: step("closed"),
                           "reference": lambda: step("reference"), "reg_closed": closed_only,
                           "reg_eager": closed_eager, "reg_ref": reference_only}, iters,
                          torch.cuda.synchronize if device.type == "cuda" else lambda: None)
    n = sum(w.numel() for w in weights)
    return dict(name=name, batch=batch, tile=tile, weights=n, **t)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--iters", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu", help="cpu, or cuda to time the steps on the GPU")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{args.threads} threads, {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}"
    print(f"load average {os.getloadavg()[0]:.2f} before; PyTorch {torch.__version__}, {where}, "
          f"median of {args.iters} rounds after 1 warm-up; the variants take turns within each round")
    rows = [bench("VGG11-CIFAR", vgg11_cifar(), 128, 32, args.iters, device),
            bench("ResNet18-CIFAR", resnet18_cifar(), 64, 64, args.iters, device)]
    print()
    print("| model | batch | T | conv weights | step, no reg | step + closed form | step + reference autograd "
          "| closed form alone | its share of a step | reference alone | speed-up |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        share = r["reg_closed"] / r["plain"]
        print(f"| {r['name']} | {r['batch']} | {r['tile']} | {r['weights']:,} | {r['plain'] * 1e3:.0f} ms "
              f"| {r['closed'] * 1e3:.0f} ms | {r['reference'] * 1e3:.0f} ms | {r['reg_closed'] * 1e3:.1f} ms "
              f"| {share * 100:.1f} % ({'meets' if share < 0.05 else 'misses'} < 5 %) | {r['reg_ref'] * 1e3:.0f} ms "
              f"| {r['reg_ref'] / r['reg_closed']:.1f}x |")
    if device.type == "cuda":
        for r in rows:
            print(f"{r['name']}: closed form replayed as one CUDA graph {r['reg_closed'] * 1e3:.2f} ms, "
                  f"the same kernels launched one by one {r['reg_eager'] * 1e3:.2f} ms")
    print(f"\nload average {os.getloadavg()[0]:.2f} after")


if __name__ == "__main__":
    main()

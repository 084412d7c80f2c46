"""The tradeoff subcommand: the sweep's points are exactly the ratios asked, each pruned from the
checkpoint's own weights by prune.py (as the fine-tune prunes), the preset scaling, a clean stop on
SIGTERM, and one-line usage errors."""
import json
import os
import signal
import subprocess
import sys

import pytest
import torch

from crossbar_lens_train.models import DigitsCNN, load_weights, vgg11_cifar
from crossbar_lens_train.prune import PRESETS, PruneSpecError, prune_model
from crossbar_lens_train.crossbar import CrossbarGeometry, model_histogram
from crossbar_lens_train.tradeoff import layer_ratios, parse_methods, parse_sweep

PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(os.path.dirname(PYTHON_DIR), "examples", "digits-cnn.pt")
ENV = dict(os.environ, PYTHONPATH=PYTHON_DIR, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
SWEEP = ["tradeoff", "--torchvision", "digits-cnn", "--weights", EXAMPLE, "--data", "digits", "--tile", "16",
         "--threads", "1", "--device", "cpu"]


def run(args):
    return subprocess.run([sys.executable, "-m", "crossbar_lens_train", *args], env=ENV, capture_output=True, text=True,
                          timeout=300)


def events(stdout):
    return [json.loads(l) for l in stdout.splitlines() if l.strip()]  # every stdout line is JSON


def test_parse_sweep_and_methods():
    assert parse_sweep("90, 0,50", preset=False) == [0.0, 50.0, 90.0]
    assert parse_sweep("100", preset=True) == [100.0]
    for bad in ("", "50,50", "100", "-1", "x", "nan"):
        with pytest.raises(PruneSpecError):
            parse_sweep(bad, preset=False)
    assert parse_methods("unstructured,dub") == ["unstructured", "dub"]
    for bad in ("", "dub,dub", "tiles"):
        with pytest.raises(PruneSpecError):
            parse_methods(bad)


def test_layer_ratios_scale_a_preset():
    layers = [(n, tuple(m.weight.shape)) for n, m in vgg11_cifar().named_modules() if isinstance(m, torch.nn.Conv2d)]
    assert layer_ratios(layers, 70, None) == [70.0] * 8
    assert layer_ratios(layers, 100, "vgg11-cifar10") == list(PRESETS["vgg11-cifar10"].ratios)
    assert layer_ratios(layers, 50, "vgg11-cifar10") == [p * 50 / 100 for p in PRESETS["vgg11-cifar10"].ratios]
    with pytest.raises(PruneSpecError, match="does not fit"):
        layer_ratios(layers[:3] + layers[4:] + layers[3:4], 50, "vgg11-cifar10")


def test_sweep_points_are_the_ratios_asked_pruned_from_the_checkpoint(tmp_path):
    r = run(SWEEP + ["--sweep", "90,0,60"])
    assert r.returncode == 0, r.stderr
    ev = events(r.stdout)
    assert [e["event"] for e in ev] == ["start", "dense"] + ["point"] * 6 + ["done"]
    start, dense, points = ev[0], ev[1], ev[2:-1]
    assert start["convLayers"] == ["conv1", "conv2", "conv3"] and start["test"] == 359 and start["points"] == 6
    assert [(p["method"], p["ratio"]) for p in points] == [(m, r) for r in (0, 60, 90) for m in ("dub", "unstructured")]
    assert dense["zeros"] == 0 and dense["weights"] == 16 * 9 + 32 * 144 + 32 * 288
    # Each point is the checkpoint pruned at that ratio (never a point pruned again).
    geometry = CrossbarGeometry(16)
    for p in points:
        model = DigitsCNN()
        load_weights(model, EXAMPLE)
        prune_model(model, [p["ratio"]] * 3, geometry, method=p["method"])
        assert p["levelHistogram"] == model_histogram(model, geometry)[0]
        assert p["zeros"] == sum(int((m.weight == 0).sum()) for m in (model.conv1, model.conv2, model.conv3))
        assert p["layerRatios"] == [p["ratio"]] * 3
    at = {(p["method"], p["ratio"]): p for p in points}
    # Unstructured at 0 % zeroes only each layer's smallest magnitude: the model still answers as the dense one.
    assert at[("unstructured", 0)]["zeros"] == 3 and at[("unstructured", 0)]["accuracy"] == dense["accuracy"]
    # D.U.B. at 0 % prunes each column's smallest weight of every crossbar it loosens to level 0 (A7).
    assert at[("dub", 0)]["zeros"] > 3
    assert at[("dub", 90)]["levelHistogram"][0] < at[("unstructured", 90)]["levelHistogram"][0]


def test_sigterm_stops_the_sweep_at_once():
    ratios = ",".join(str(r / 4) for r in range(0, 396))  # 396 ratios x 2 methods: far longer than the test waits
    proc = subprocess.Popen([sys.executable, "-m", "crossbar_lens_train", *SWEEP, "--sweep", ratios], env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    try:
        for line in proc.stdout:
            lines.append(json.loads(line))
            if lines[-1]["event"] == "point":
                proc.send_signal(signal.SIGTERM)
                break
        rest, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
    lines += events(rest)
    assert proc.returncode == 0
    assert lines[-1]["event"] == "stopped"
    assert sum(e["event"] == "point" for e in lines) < 792


def test_usage_errors_are_one_line():
    r = run(["tradeoff", "--torchvision", "digits-cnn", "--weights", EXAMPLE, "--data", "/nonexistent/x.npz"])
    assert r.returncode == 2
    err = events(r.stdout)[-1]
    assert err["event"] == "error" and err["usage"] is True and "/nonexistent/x.npz" in err["message"]
    assert len(r.stderr.strip().splitlines()) == 1
    r = run(["tradeoff", "--torchvision", "resnet18", "--weights", EXAMPLE, "--data", "digits"])
    assert r.returncode == 2 and "does not fit the model" in events(r.stdout)[-1]["message"]
    r = run(SWEEP + ["--preset", "vgg11-cifar10"])
    assert r.returncode == 2 and "vgg11-cifar10" in events(r.stdout)[-1]["message"]
    r = run(SWEEP + ["--sweep", "50,120"])
    assert r.returncode == 2 and "120" in events(r.stdout)[-1]["message"]

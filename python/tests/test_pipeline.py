"""The finetune command end to end on digits (tiny budgets): JSON-lines protocol, masks kept through
fine-tuning, atomic output that never replaces a file without --force, clean stop on SIGTERM and an
exact resume, one-line errors, and one torchrun run with 2 processes (gloo)."""
import json
import os
import signal
import subprocess
import sys

import pytest
import torch

PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(os.environ, PYTHONPATH=PYTHON_DIR, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")

TINY = ["finetune", "--torchvision", "digits-cnn", "--data", "digits", "--tile", "16", "--ratios", "0,80,85",
        "--epochs", "2", "--finetune-epochs", "2", "--batch-size", "64", "--lr", "0.05", "--threads", "1",
        "--device", "cpu"]  # CPU on any machine: the resume test compares bits, which cuDNN does not keep


def run(args, **kw):
    return subprocess.run([sys.executable, "-m", "crossbar_lens_train", *args], env=ENV, capture_output=True,
                          text=True, timeout=300, **kw)


def events(stdout):
    lines = [l for l in stdout.splitlines() if l.strip()]
    return [json.loads(l) for l in lines]  # every stdout line is JSON


def test_finetune_protocol_and_output(tmp_path):
    out = tmp_path / "pruned.pt"
    r = run(TINY + ["--out", str(out), "--baseline-out", str(tmp_path / "baseline.pt")])
    assert r.returncode == 0, r.stderr
    ev = events(r.stdout)
    kinds = [e["event"] for e in ev]
    assert kinds[0] == "start" and kinds[-1] == "done"
    phases = [(e["phase"], e["epoch"]) for e in ev if e["event"] == "epoch"]
    assert phases == [("regularize", 1), ("regularize", 2), ("finetune", 1), ("finetune", 2), ("baseline", 1), ("baseline", 2)]
    assert [e["phase"] for e in ev if e["event"] == "prune"] == ["dub", "unstructured"]
    assert kinds.count("checkpoint") >= 6
    umask = os.umask(0)
    os.umask(umask)
    assert (out.stat().st_mode & 0o777) == 0o666 & ~umask  # like any file the user's own code saves
    for e in ev:
        if e["event"] == "epoch":
            for key in ("loss", "trainAccuracy", "testAccuracy", "adcEnergyImprovement", "levelHistogram", "epochs"):
                assert key in e
            assert len(e["levelHistogram"]) == 6 and sum(e["levelHistogram"]) == 55  # T=16: B=6; 1+18+36 tiles
            assert 0 <= e["testAccuracy"] <= 100
    regularize = [e for e in ev if e["event"] == "epoch" and e["phase"] == "regularize"]
    assert "regularizerLoss" in regularize[0] and "projectedAdcEnergyImprovement" in regularize[0]
    start = ev[0]
    assert start["engine"] == "pytorch" and start["convLayers"] == ["conv1", "conv2", "conv3"] and start["ratios"] == [0, 80, 85]
    assert start["phases"] == ["regularize", "prune", "finetune", "baseline"]
    dub_prune = next(e for e in ev if e["event"] == "prune" and e["phase"] == "dub")
    done = ev[-1]
    assert done["dub"]["adcEnergyImprovement"] == pytest.approx(dub_prune["adcEnergyImprovement"])
    assert done["baselineStart"] == "regularized"
    assert done["regularized"] == {"accuracy": regularize[-1]["testAccuracy"],
                                   "adcEnergyImprovement": regularize[-1]["adcEnergyImprovement"]}
    # The output: a plain state_dict; fine-tuning kept every pruned weight at zero.
    sd = torch.load(out, weights_only=True)
    zeros = sum(int((sd[k] == 0).sum()) for k in ("conv1.weight", "conv2.weight", "conv3.weight"))
    assert zeros == dub_prune["zeros"]
    assert (tmp_path / "baseline.pt").exists()
    assert not (tmp_path / "pruned.pt.resume.pt").exists()  # removed once the run is complete
    # Never over an existing file without --force.
    r2 = run(TINY + ["--out", str(out)])
    assert r2.returncode == 2
    err = events(r2.stdout)
    assert err[-1]["event"] == "error" and "--force" in err[-1]["message"]
    assert len(r2.stderr.strip().splitlines()) == 1


def test_events_file_gets_the_json_and_stdout_readable_lines(tmp_path):
    """--events-file (the extension tails it under a VS Code task): the JSON lines go to the file only,
    and the terminal (stdout) shows one readable line per event, worded as `crossbar-lens finetune`."""
    log = tmp_path / "events.jsonl"
    log.write_text("")  # the reader creates it before the run starts; lines are appended
    args = TINY[:]
    args[args.index("--epochs") + 1] = "1"
    args[args.index("--finetune-epochs") + 1] = "1"
    r = run(args + ["--out", str(tmp_path / "o.pt"), "--no-projection", "--events-file", str(log)])
    assert r.returncode == 0, r.stderr
    ev = events(log.read_text())
    assert [e["event"] for e in ev if e["event"] != "checkpoint"] == ["start", "epoch", "prune", "epoch", "prune", "epoch", "done"]
    assert 0 <= ev[0]["testAccuracy"] <= 100  # the starting point of the accuracy curve
    out = r.stdout.splitlines()
    assert not [line for line in out if line.lstrip().startswith("{")], r.stdout  # no JSON in the terminal
    epochs = [e for e in ev if e["event"] == "epoch"]
    assert out[0] == "PyTorch %s on cpu; digits (1438 training / 359 held-out images); 3 conv layers at T=16" % torch.__version__
    # One line per epoch, as the CLI's describeEpoch: "regularize 1/1  loss 2.2967  test 61.00 %  ADC 1.000×".
    epoch_lines = [line for line in out if line.split(" ")[0] in ("regularize", "finetune", "baseline")]
    assert [line.split("  ")[0] for line in epoch_lines] == [f"{e['phase']} {e['epoch']}/{e['epochs']}" for e in epochs]
    for line, e in zip(epoch_lines, epochs):
        assert f"  loss {e['loss']:.4f}  test {e['testAccuracy']:.2f} %  ADC " in line
        assert line.endswith("×")
    assert out[2].startswith("D.U.B. prune: conv1 0%, conv2 80%, conv3 85%  test ")
    assert out[4].startswith("Unstructured prune (the baseline): conv1 0%, conv2 80%, conv3 85%  test ")
    done = ev[-1]
    assert out[-6] == "model                      held-out acc   ADC improvement (paper law)"
    assert out[-3].startswith("D.U.B. fine-tuned") and f"{done['dub']['accuracy']:.2f} %" in out[-3]
    assert out[-1] == f"wrote {tmp_path / 'o.pt'}"
    # A usage error lands in the file; the terminal shows it once, as one line on stderr.
    bad = tmp_path / "bad.jsonl"
    r = run(["finetune", "--events-file", str(bad), "--torchvision", "digits-cnn", "--data", "digits", "--tile", "48",
             "--out", str(tmp_path / "x.pt")])
    assert r.returncode == 2
    assert json.loads(bad.read_text())["usage"] is True
    assert r.stdout == "" and len(r.stderr.strip().splitlines()) == 1 and "--tile" in r.stderr


def test_max_steps_per_epoch_cuts_every_epoch(tmp_path):
    r = run(TINY + ["--out", str(tmp_path / "o.pt"), "--max-steps-per-epoch", "2"])
    assert r.returncode == 0, r.stderr
    epochs = [e for e in events(r.stdout) if e["event"] == "epoch"]
    assert len(epochs) == 6 and all(e["trainImages"] == 2 * 64 for e in epochs)
    full = run(TINY + ["--out", str(tmp_path / "full.pt"), "--epochs", "1", "--finetune-epochs", "1", "--no-baseline"])
    assert [e["trainImages"] for e in events(full.stdout) if e["event"] == "epoch"][0] > 1000  # 80 % of 1797


def _as_written_before_the_rename(path):
    """Rewrites a resume file with the names the engine used before it took the TypeScript phase names
    (phase 1 `train`, its weights `phase1`), as an interrupted run of that version left it."""
    blob = torch.load(path, weights_only=True)
    state = json.loads(blob["meta"])
    state["phase"] = "train" if state["phase"] == "regularize" else state["phase"]
    state["phase1"] = state.pop("regularized")
    state["results"] = {("train" if k == "regularize" else k): v for k, v in state["results"].items()}
    state["config"]["baseline_start"] = "phase1"
    blob["meta"] = json.dumps(state)
    torch.save(blob, path)


@pytest.mark.parametrize("old_names", [False, True], ids=["resume", "resume-file-of-the-old-version"])
def test_sigterm_then_resume_is_exact(tmp_path, old_names):
    args = TINY[:]
    args[args.index("--epochs") + 1] = "3"
    ref = tmp_path / "ref.pt"
    r = run(args + ["--out", str(ref), "--no-baseline", "--no-projection"])
    assert r.returncode == 0, r.stderr

    out = tmp_path / "out.pt"
    ckpt = tmp_path / "run.ckpt"
    proc = subprocess.Popen([sys.executable, "-m", "crossbar_lens_train", *args, "--out", str(out), "--no-baseline",
                             "--no-projection", "--checkpoint", str(ckpt)],
                            env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(json.loads(line))
        if lines[-1]["event"] == "checkpoint":
            proc.send_signal(signal.SIGTERM)
            break
    rest, _err = proc.communicate(timeout=120)
    lines += [json.loads(l) for l in rest.splitlines() if l.strip()]
    assert proc.returncode == 0
    stopped = [e for e in lines if e["event"] == "stopped"]
    assert stopped, [e["event"] for e in lines]
    assert ckpt.exists() and not out.exists()
    assert stopped[0]["phase"] == "regularize"
    if old_names:
        _as_written_before_the_rename(ckpt)
    # Another crossbar size than the file's is refused, by the name the user typed (--tile).
    other = args[:]
    other[other.index("--tile") + 1] = "32"
    r = run(other + ["--out", str(out), "--no-baseline", "--no-projection", "--checkpoint", str(ckpt), "--resume"])
    assert r.returncode == 1 and "tile=16" in events(r.stdout)[-1]["message"], r.stdout
    r = run(args + ["--out", str(out), "--no-baseline", "--no-projection", "--checkpoint", str(ckpt), "--resume"])
    assert r.returncode == 0, r.stderr
    ev = events(r.stdout)
    assert ev[0]["resumeFrom"]["phase"] == "regularize"
    assert [e["phase"] for e in ev if e["event"] == "epoch"][0] == "regularize"
    a, b = torch.load(ref, weights_only=True), torch.load(out, weights_only=True)
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_dataset_that_does_not_fit_is_one_line(tmp_path):
    r = run(["finetune", "--torchvision", "resnet18", "--data", "digits", "--ratios", "50", "--epochs", "1",
             "--out", str(tmp_path / "x.pt")])
    assert r.returncode == 1
    ev = events(r.stdout)
    assert [e["event"] for e in ev] == ["error"]
    assert "do not fit" in ev[0]["message"]
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


def test_usage_errors(tmp_path):
    r = run(["finetune", "--torchvision", "digits-cnn", "--data", "digits", "--tile", "48", "--out", str(tmp_path / "x.pt")])
    assert r.returncode == 2 and events(r.stdout)[-1]["usage"] is True
    r = run(["finetune", "--torchvision", "digits-cnn", "--data", "digits", "--ratios", "1,2", "--out", str(tmp_path / "x.pt")])
    assert r.returncode == 1 and "3 conv layers" in events(r.stdout)[-1]["message"]


def test_user_model_factory_and_weights(tmp_path):
    (tmp_path / "mymodel.py").write_text(
        "import torch.nn as nn\n"
        "def make(num_classes=10):\n"
        "    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 64, num_classes))\n")
    sys.path.insert(0, str(tmp_path))
    try:
        import mymodel  # noqa: F401
        torch.save({"model": mymodel.make().state_dict(), "epoch": 3}, tmp_path / "start.pt")
    finally:
        sys.path.remove(str(tmp_path))
    r = run(["finetune", "--model", f"{tmp_path}/mymodel.py:make", "--weights", str(tmp_path / "start.pt"),
             "--data", "digits", "--tile", "16", "--ratios", "50", "--epochs", "1", "--finetune-epochs", "1",
             "--no-baseline", "--out", str(tmp_path / "o.pt"), "--threads", "1"])
    assert r.returncode == 0, r.stdout + r.stderr
    assert events(r.stdout)[-1]["event"] == "done"


def test_torchrun_two_processes(tmp_path):
    out = tmp_path / "ddp.pt"
    cmd = [sys.executable, "-m", "crossbar_lens_train.launch", "--standalone", "--nproc_per_node", "2", "-m", "crossbar_lens_train",
           *TINY, "--out", str(out), "--no-projection"]
    r = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    ev = events(r.stdout)  # only rank 0 prints
    assert ev[0]["event"] == "start" and ev[0]["world"] == 2
    assert len([e for e in ev if e["event"] == "start"]) == 1
    assert ev[-1]["event"] == "done" and out.exists()

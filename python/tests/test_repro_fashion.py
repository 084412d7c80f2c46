"""The Fashion-MNIST benchmark's code path (repro_fashion.py) on a small IDX folder written here: every
method's line and the summary's fields, and that the two phase-1 branches differ only by the regularizer."""
import json

import pytest
from idx_fixtures import write_idx_folder

from crossbar_lens_train.repro_fashion import run_repro_fashion

FIELDS = ["engine", "baselineAccuracy", "dubAccuracy", "dubImprovement", "unstructuredAccuracy", "unstructuredImprovement",
          "pruneOnlyAccuracy", "pruneOnlyImprovement", "tilesAccuracy", "tilesImprovement", "tile", "ratios", "minutes",
          "reducedBudget"]
TINY = dict(train_limit=0, test_limit=0, batch_size=32, ratios=[0, 50, 70, 80, 88, 95, 98])


def _run(tmp_path, capsys, **params):
    write_idx_folder(tmp_path / "idx", gz=True, train=96, test=40, rows=28, columns=28)
    assert run_repro_fashion(quick=True, threads=1, data=str(tmp_path / "idx"), params=dict(TINY, **params)) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    return {line["step"]: line for line in lines if "step" in line}, lines[-1]


def test_every_method_and_the_summary(tmp_path, capsys):
    steps, summary = _run(tmp_path, capsys)
    assert list(steps) == ["dense", "regularize", "continue", "unstructured", "pruneOnly", "dub", "tiles"]
    assert set(FIELDS) <= set(summary)
    assert summary["engine"] == "pytorch" and summary["tile"] == 32 and summary["reducedBudget"] is True
    for method in ("unstructured", "pruneOnly", "dub"):
        assert summary[f"{method}Improvement"] > 1.5, (method, summary)
    assert summary["tilesImprovement"] >= 1.0
    assert summary["dubImprovement"] == pytest.approx(steps["dub"]["adcEnergyImprovement"], abs=1e-4)


def test_without_the_regularizer_the_two_branches_are_the_same_run(tmp_path, capsys):
    steps, summary = _run(tmp_path, capsys, lam_var=0.0)
    assert steps["regularize"]["accuracy"] == steps["continue"]["accuracy"]
    assert summary["dubAccuracy"] == summary["pruneOnlyAccuracy"]
    assert summary["dubImprovement"] == summary["pruneOnlyImprovement"]

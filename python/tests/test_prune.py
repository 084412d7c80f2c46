"""D.U.B. and unstructured pruning against docs/method.md §11 (TV1-TV5, TV11-TV17, from docs/test-vectors.json) and §6.1's properties."""
import numpy as np
import pytest
import torch

from crossbar_lens_train.crossbar import CrossbarGeometry, bits_for_level, crossbar_levels, improvement_from_histogram, levels_from_counts
from crossbar_lens_train.prune import (ACTIONS, PRESETS, PruneSpecError, dub_prune_matrix, layer_threshold, parse_ratio_spec,
                                       prune_model, prune_tensors, resolve_ratios, unstructured_prune_array)
from vectors import TV

F32 = np.float32


def arr(rows):
    return np.array(rows, dtype=F32)


ACTION = {name: code for code, name in enumerate(ACTIONS)}


def level(lsc_non_zeros, column_length, bins):
    """One crossbar's level through the vectorised rule the engine uses."""
    return int(levels_from_counts(np.array([lsc_non_zeros]), np.array([column_length]), bins)[0])


def levels_of(m, geo):
    return crossbar_levels(torch.from_numpy(np.ascontiguousarray(m)), geo)


def prune_vector(tv, **kwargs):
    geo = CrossbarGeometry(tv["T"])
    return geo, dub_prune_matrix(arr(tv["input"]), tv["theta"], geo, **kwargs)


def test_tv11_forced():
    tv, ex = TV["TV11"], TV["TV11"]["expected"]
    geo, (out, before, action) = prune_vector(tv)
    assert before.tolist() == [[ex["k"]]]
    assert action.tolist() == [[ACTION[ex["decision"]]]]
    assert np.array_equal(out, arr(ex["output"]))
    assert levels_of(out, geo).tolist() == [[ex["kAfter"]]]
    assert bits_for_level(ex["kAfter"], geo) == ex["bitsAfter"]


def test_tv12_loosened_to_level_0_prunes_each_minimum():
    tv, ex = TV["TV12"], TV["TV12"]["expected"]
    geo, (out, before, action) = prune_vector(tv)
    assert before.tolist() == [[ex["k"]]]
    assert action.tolist() == [[ACTION[ex["decision"]]]]
    assert np.array_equal(out, arr(ex["output"]))
    assert levels_of(out, geo).tolist() == [[ex["kAfter"]]]
    assert bits_for_level(ex["kAfter"], geo) == ex["bitsAfter"]
    _, (skipped, _, action) = prune_vector(tv, skip_q0=True)
    assert action.tolist() == [[ACTION["skipped"]]]
    assert np.array_equal(skipped, arr(tv["input"]))


def test_tv13_single_non_zero_level():
    tv, ex = TV["TV13"], TV["TV13"]["expected"]
    geo, (out, before, action) = prune_vector(tv)
    assert ex["k"] == geo.bins - 2
    assert before.tolist() == [[ex["k"]]]
    assert action.tolist() == [[ACTION["keptOne"]]]
    assert np.array_equal(out, arr(ex["fixedOutput"]))
    _, (tol, _, action) = prune_vector(tv, variant="tol")
    assert action.tolist() == [[ACTION["zeroed"]]]
    assert np.array_equal(tol, arr(ex["tolOutput"]))
    assert not tol.any()


def test_tv14_all_almost_zero():
    tv, ex = TV["TV14"], TV["TV14"]["expected"]
    geo, (out, before, action) = prune_vector(tv)
    assert ex["k"] == geo.bins - 1
    assert before.tolist() == [[ex["k"]]] and action.tolist() == [[ACTION["zeroed"]]]
    assert np.array_equal(out, arr(ex["output"]))
    assert not out.any()
    assert levels_of(out, geo).tolist() == [[ex["k"]]]
    assert bits_for_level(ex["k"], geo) == ex["bitsAfter"]


def test_tv15_forced_at_t8():
    tv, ex = TV["TV15"], TV["TV15"]["expected"]
    geo, (out, before, action) = prune_vector(tv)
    assert before.tolist() == [[ex["k"]]] and action.tolist() == [[ACTION[ex["decision"]]]]
    assert np.array_equal(out, arr(ex["output"]))
    assert levels_of(out, geo).tolist() == [[ex["kAfter"]]]
    assert bits_for_level(ex["kAfter"], geo) == ex["bitsAfter"]


@pytest.mark.parametrize("case", TV["TV16"]["columns"], ids=lambda c: f'n{c["n"]}-q{c["qStar"]}')
def test_tv16_percentile_counting(case):
    n = case["n"]
    col = np.random.default_rng(n).permutation(np.arange(1, n + 1)).astype(F32) / n
    tau = np.percentile(col, case["qStar"] * 100.0)
    assert int((col <= F32(tau)).sum()) == case["pruned"]
    if "position" in case:  # a whole virtual index: the percentile is that element
        assert (n - 1) * case["qStar"] == case["position"]
        assert np.percentile(np.arange(1, n + 1, dtype=F32), case["qStar"] * 100.0) == case["position"] + 1


def test_tv16_layer_threshold():
    layer = TV["TV16"]["layer"]
    w = np.array(layer["absValues"], dtype=F32)
    assert abs(layer_threshold(w, layer["ratio"]) - layer["threshold"]) <= layer["tolerance"]
    out, theta = unstructured_prune_array(w, layer["ratio"])
    assert abs(theta - layer["threshold"]) <= layer["tolerance"]
    assert int((out == 0).sum()) == layer["pruned"]


def _column(t, zeros):
    """One crossbar column of t inputs: `zeros` almost-zeros (.01) and the rest well above theta = .1."""
    return np.array([[.01 if i < zeros else .5 + i / t for i in range(t)]], dtype=F32)


def test_tv2_levels_and_decisions():
    tv = TV["TV2"]
    geo = CrossbarGeometry(tv["T"])
    for case in tv["cases"]:
        assert level(tv["T"] - case["zeros"], tv["T"], geo.bins) == case["k"], case
        if "decision" in case:
            _, before, action = dub_prune_matrix(_column(tv["T"], case["zeros"]), 0.1, geo)
            assert before.tolist() == [[case["k"]]] and action.tolist() == [[ACTION[case["decision"]]]], case


@pytest.mark.parametrize("case", TV["TV1"]["cases"], ids=lambda c: f'T{c["T"]}')
def test_tv1_bins_and_edges(case):
    geo = CrossbarGeometry(case["T"])
    assert geo.bins == case["B"]
    assert geo.edges() == case["edges"]


@pytest.mark.parametrize("case", TV["TV3"]["cases"], ids=lambda c: f'T{c["T"]}')
def test_tv3_bits_per_level(case):
    geo = CrossbarGeometry(case["T"])
    assert [bits_for_level(k, geo) for k in range(geo.bins)] == case["bits"]


def test_tv4_one_crossbar_at_t64():
    tv = TV["TV4"]
    geo = CrossbarGeometry(tv["T"])
    for case in tv["cases"]:
        k = level(case["lscNonZeros"], tv["T"], geo.bins)
        assert k == case["k"] and bits_for_level(k, geo) == case["bits"]
        edges = geo.edges()
        assert edges[k] <= case["s"] < edges[k + 1]
        if "relativeEnergy" in case:  # paper law: E proportional to bits
            assert abs(case["bits"] / geo.dense_bits - case["relativeEnergy"]["paper"]) <= case["relativeEnergyTolerance"]["paper"]
        if "prunedTo" in case:
            out, _, action = dub_prune_matrix(_column(tv["T"], tv["T"] - case["lscNonZeros"]), 0.1, geo)
            assert action.tolist() == [[ACTION["forced"]]] and int((out != 0).sum()) == case["prunedTo"]


def test_tv17_crossbar_counts():
    """The crossbar grid the trainer measures levels on (crossbar_levels) has the reference's crossbar counts."""
    def grid_size(shape, t):
        return levels_of(np.zeros((shape[0], int(np.prod(shape[1:]))), dtype=F32), CrossbarGeometry(t)).size

    for net in (TV["TV17"]["vgg11Cifar"], TV["TV17"]["resnet18"]):
        assert [grid_size(s, 64) for s in net["shapes"]] == net["perLayerAt64"]
        for t, crossbars in net["crossbars"].items():
            assert sum(grid_size(s, int(t)) for s in net["shapes"]) == crossbars, t
        assert sum(int(np.prod(s)) for s in net["shapes"]) == net["weights"]


def test_tv17_resnet18_shapes_are_torchvision():
    import torchvision
    from crossbar_lens_train.crossbar import conv_layers
    layers = [(n, list(m.weight.shape)) for n, m in conv_layers(torchvision.models.resnet18())]
    net = TV["TV17"]["resnet18"]
    assert [n for n, _ in layers] == net["names"]
    assert [s for _, s in layers] == net["shapes"]


def test_exact_counts_per_column_t64():
    """§6.1: a forced column of distinct magnitudes keeps exactly T*2^-j weights; every column the same."""
    geo = CrossbarGeometry(64)
    rng = np.random.default_rng(1)
    m = rng.standard_normal((64, 64)).astype(F32)
    # 41 almost-zeros in the least-sparse column, more elsewhere: s = 41/64 >= .625 -> forced to .75.
    for o in range(64):
        idx = rng.permutation(64)[: 41 + (o % 7)]
        m[o, idx] *= 1e-4
    out, before, action = dub_prune_matrix(m, 1e-3, geo)
    assert before.tolist() == [[1]] and action.tolist() == [[3]]
    assert set((out != 0).sum(axis=1).tolist()) == {16}
    # Each column keeps its own largest magnitudes (U).
    for o in range(64):
        kept = np.abs(out[o])[out[o] != 0]
        dropped = np.abs(m[o])[out[o] == 0]
        assert kept.min() > dropped.max()


def test_partial_crossbars_and_slices():
    geo = CrossbarGeometry(16, 2)  # R = 8
    rng = np.random.default_rng(2)
    m = rng.standard_normal((13, 27)).astype(F32)
    out, before, action = dub_prune_matrix(m, float(np.percentile(np.abs(m), 60)), geo)
    assert before.shape == (2, 2) and action.shape == (2, 2)
    # Every processed crossbar ends with the same L0 in all of its columns (B property).
    for a in range(2):
        for b in range(2):
            crossbar = out[a * 8:(a + 1) * 8, b * 16:(b + 1) * 16]
            if action[b, a] in (2, 3, 4):
                assert len(set((crossbar != 0).sum(axis=1).tolist())) == 1


def test_improvement_tv5():
    for case in TV["TV5"]["cases"]:
        geo = CrossbarGeometry(case["T"])
        value = improvement_from_histogram(case["histogram"], geo)
        assert value == case["dense"] / case["current"]
        assert round(value, case["decimals"]) == pytest.approx(case["improvement"], abs=1e-12)
    assert improvement_from_histogram([0, 0, 0, 0, 0, 3, 4], CrossbarGeometry(32)) is None


def test_presets_and_ratio_specs():
    assert parse_ratio_spec("vgg11-cifar10") == "vgg11-cifar10"
    assert parse_ratio_spec("50") == 50.0
    assert parse_ratio_spec("1,2.5,3") == [1.0, 2.5, 3.0]
    assert PRESETS["vgg11-cifar10"].ratios == (2.37, 70, 75, 75, 90, 98.67, 99.84, 99.86)
    assert PRESETS["resnet18-imagenet"].ratios[12] == 85
    with pytest.raises(PruneSpecError):
        parse_ratio_spec("abc")
    layers = [("a", (4, 3, 3, 3)), ("b", (8, 4, 3, 3))]
    assert resolve_ratios(layers, [10, 20]) == [10, 20]
    with pytest.raises(PruneSpecError, match="2 conv layers"):
        resolve_ratios(layers, [10])
    with pytest.raises(PruneSpecError, match="does not fit"):
        resolve_ratios(layers, "vgg11-cifar10")
    with pytest.raises(PruneSpecError, match=r"\[0, 100\]"):
        resolve_ratios(layers, [10, 120])


def test_resnet18_preset_fits_torchvision():
    import torchvision
    model = torchvision.models.resnet18()
    from crossbar_lens_train.crossbar import conv_layers
    layers = [(n, tuple(m.weight.shape)) for n, m in conv_layers(model)]
    assert resolve_ratios(layers, "resnet18-imagenet")[12] == 85
    assert layers[12][0] == "layer3.0.downsample.0"


def test_prune_model_masks_and_ratio():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3), torch.nn.ReLU(), torch.nn.Conv2d(16, 32, 3))
    with torch.no_grad():
        model[0].weight[0, 0, 0, 0] = 0  # a pre-existing zero stays in the mask
    res = prune_model(model, [30, 80], CrossbarGeometry(16), method="dub")
    assert set(res.masks) == {"0", "2"}
    for name, mod in [("0", model[0]), ("2", model[2])]:
        assert torch.equal(res.masks[name], mod.weight == 0)
    assert bool(res.masks["0"][0, 0, 0, 0])
    # Unstructured at the same ratios prunes about that share of each layer (ties aside).
    model2 = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3), torch.nn.ReLU(), torch.nn.Conv2d(16, 32, 3))
    res2 = prune_model(model2, [30, 80], CrossbarGeometry(16), method="unstructured")
    frac = float(res2.masks["2"].float().mean())
    assert abs(frac - 0.8) < 0.01


def test_prune_tensors_dub_matches_crossbar_levels_after():
    """Every D.U.B.-processed crossbar lands exactly on a power-of-two level, so no non-zero LSC is between levels."""
    rng = np.random.default_rng(4)
    w = torch.from_numpy(rng.standard_normal((64, 32, 3, 3)).astype(F32))
    geo = CrossbarGeometry(32)
    res = prune_tensors({"w": w}, 75.0, geo)
    m = w.reshape(64, -1).numpy()
    for a in range(2):
        for b in range(9):
            nz = (m[a * 32:(a + 1) * 32, b * 32:(b + 1) * 32] != 0).sum(axis=1)
            act = res.layers[0].action[b, a]
            if act in (2, 3, 4) and nz.max() > 0:
                assert nz.max() == nz.min()
                assert (nz.max() & (nz.max() - 1)) == 0 or act == 4 and nz.max() == 31


def test_tiles_clears_only_whole_crossbars_at_or_below_the_threshold():
    """`tiles` (§8.4, part S): a crossbar goes only when every weight is <= the layer's threshold; nothing else moves."""
    rng = np.random.default_rng(7)
    m = (rng.standard_normal((64, 64)) + np.sign(rng.standard_normal((64, 64))) * 2).astype(F32)  # |w| >= ~1 mostly
    m[32:64, 0:32] = rng.uniform(-1e-3, 1e-3, (32, 32)).astype(F32)  # one crossbar of tiny weights
    w = torch.from_numpy(m.reshape(64, 64, 1, 1).copy())
    res = prune_tensors({"w": w}, 26.0, CrossbarGeometry(32), method="tiles")  # 25 % of the weights are that crossbar
    pruned = w.reshape(64, 64).numpy()
    assert (pruned[32:64, 0:32] == 0).all()
    others = np.ones((64, 64), dtype=bool)
    others[32:64, 0:32] = False
    assert np.array_equal(pruned[others], m[others]), "every other weight is left as it was, even those below the threshold"
    assert res.layers[0].action.tolist() == [[0, 1], [0, 0]], "block 0 of channel group 1, in block-major order"
    assert int(res.masks["w"].sum()) == 32 * 32

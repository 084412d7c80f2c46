"""D.U.B. and unstructured pruning against dub-method.md §11 (TV11-TV16) and §6.1's properties."""
import numpy as np
import pytest
import torch

from crossbar_lens_train.prune import (PRESETS, PruneSpecError, dub_prune_matrix, layer_threshold, parse_ratio_spec,
                                       prune_model, prune_tensors, resolve_ratios, unstructured_prune_array)
from crossbar_lens_train.tiles import TileGeometry, bits_for_level, improvement_from_histogram, tile_levels

F32 = np.float32


def arr(rows):
    return np.array(rows, dtype=F32)


TV11 = [[.05, .5, -.3, .02], [.9, -.08, .04, .01], [.2, .3, -.06, .7], [.03, -.02, .6, .01]]


def levels_of(m, geo):
    return tile_levels(torch.from_numpy(np.ascontiguousarray(m)), geo)


def test_tv11_forced():
    geo = TileGeometry(4)
    out, before, action = dub_prune_matrix(arr(TV11), 0.1, geo)
    assert before.tolist() == [[0]]
    assert action.tolist() == [[3]]  # forced
    assert np.array_equal(out, arr([[0, .5, -.3, 0], [.9, -.08, 0, 0], [0, .3, 0, .7], [.03, 0, .6, 0]]))
    assert levels_of(out, geo).tolist() == [[1]]
    assert bits_for_level(1, geo) == 1


def test_tv12_loosened_to_level_0_prunes_each_minimum():
    m = [row[:] for row in TV11]
    m[2] = [.2, .3, -.16, .7]
    geo = TileGeometry(4)
    out, before, action = dub_prune_matrix(arr(m), 0.1, geo)
    assert action.tolist() == [[4]]  # loosened
    assert np.array_equal(out, arr([[.05, .5, -.3, 0], [.9, -.08, .04, 0], [.2, .3, 0, .7], [.03, -.02, .6, 0]]))
    assert levels_of(out, geo).tolist() == [[0]]
    skipped, _, action = dub_prune_matrix(arr(m), 0.1, geo, skip_q0=True)
    assert action.tolist() == [[5]]
    assert np.array_equal(skipped, arr(m))


TV13 = [[.05, .5, -.03, .02], [.9, -.08, .04, .01], [.02, .03, -.06, .7], [.03, -.02, .6, .01]]


def test_tv13_single_non_zero_level():
    geo = TileGeometry(4)
    out, before, action = dub_prune_matrix(arr(TV13), 0.1, geo)
    assert before.tolist() == [[2]]  # B - 2
    assert action.tolist() == [[2]]
    assert np.array_equal(out, arr([[0, .5, 0, 0], [.9, 0, 0, 0], [0, 0, 0, .7], [0, 0, .6, 0]]))
    tol, _, action = dub_prune_matrix(arr(TV13), 0.1, geo, variant="tol")
    assert action.tolist() == [[1]]
    assert not tol.any()


def test_tv14_all_almost_zero():
    geo = TileGeometry(4)
    out, before, action = dub_prune_matrix(arr([[.05, .01, -.03, .02], [.09, -.08, .04, .01]]), 0.1, geo)
    assert before.tolist() == [[3]] and action.tolist() == [[1]]
    assert not out.any()
    assert levels_of(out, geo).tolist() == [[3]]
    assert bits_for_level(3, geo) == 0


def test_tv15_forced_at_t8():
    geo = TileGeometry(8)
    m = arr([[.5, .01, .02, -.4, .03, .04, .05, .06], [.3, -.2, .05, .01, .02, .03, .04, .12]])
    out, before, action = dub_prune_matrix(m, 0.1, geo)
    assert before.tolist() == [[1]] and action.tolist() == [[3]]
    assert np.array_equal(out, arr([[.5, 0, 0, -.4, 0, 0, 0, 0], [.3, -.2, 0, 0, 0, 0, 0, 0]]))
    assert levels_of(out, geo).tolist() == [[2]]


@pytest.mark.parametrize("n, q, pruned", [(64, .5, 32), (64, .75, 48), (64, .875, 56), (64, 0.0, 1),
                                          (27, .5, 14), (27, 0.0, 1), (32, .96875, 31)])
def test_tv16_percentile_counting(n, q, pruned):
    col = np.random.default_rng(n).permutation(np.arange(1, n + 1)).astype(F32) / n
    tau = np.percentile(col, q * 100.0)
    assert int((col <= F32(tau)).sum()) == pruned


def test_tv16_layer_threshold():
    w = np.arange(1, 11, dtype=F32)
    assert layer_threshold(w, 70) == pytest.approx(7.3)
    out, theta = unstructured_prune_array(w, 70)
    assert theta == pytest.approx(7.3)
    assert int((out == 0).sum()) == 7


def test_exact_counts_per_column_t64():
    """§6.1: a forced column of distinct magnitudes keeps exactly T*2^-j weights; every column the same."""
    geo = TileGeometry(64)
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


def test_partial_tiles_and_slices():
    geo = TileGeometry(16, 2)  # R = 8
    rng = np.random.default_rng(2)
    m = rng.standard_normal((13, 27)).astype(F32)
    out, before, action = dub_prune_matrix(m, float(np.percentile(np.abs(m), 60)), geo)
    assert before.shape == (2, 2) and action.shape == (2, 2)
    # Every processed tile ends with the same L0 in all of its columns (B property).
    for a in range(2):
        for b in range(2):
            tile = out[a * 8:(a + 1) * 8, b * 16:(b + 1) * 16]
            if action[a, b] in (2, 3, 4):
                assert len(set((tile != 0).sum(axis=1).tolist())) == 1


def test_improvement_tv5():
    assert improvement_from_histogram([61, 646, 827, 86, 767, 5481, 1134], TileGeometry(32)) == pytest.approx(45010 / 6309)
    assert improvement_from_histogram([6, 1964, 757, 0, 0, 0, 0, 0], TileGeometry(64)) == pytest.approx(16362 / 12884)
    assert improvement_from_histogram([419, 1470, 393, 1272, 1403, 2242, 1803], TileGeometry(32)) == pytest.approx(3.436, abs=1e-3)
    assert improvement_from_histogram([0, 0, 0, 0, 0, 3, 4], TileGeometry(32)) is None


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
    from crossbar_lens_train.tiles import conv_layers
    layers = [(n, tuple(m.weight.shape)) for n, m in conv_layers(model)]
    assert resolve_ratios(layers, "resnet18-imagenet")[12] == 85
    assert layers[12][0] == "layer3.0.downsample.0"


def test_prune_model_masks_and_ratio():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3), torch.nn.ReLU(), torch.nn.Conv2d(16, 32, 3))
    with torch.no_grad():
        model[0].weight[0, 0, 0, 0] = 0  # a pre-existing zero stays in the mask
    res = prune_model(model, [30, 80], TileGeometry(16), method="dub")
    assert set(res.masks) == {"0", "2"}
    for name, mod in [("0", model[0]), ("2", model[2])]:
        assert torch.equal(res.masks[name], mod.weight == 0)
    assert bool(res.masks["0"][0, 0, 0, 0])
    # Unstructured at the same ratios prunes about that share of each layer (ties aside).
    model2 = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3), torch.nn.ReLU(), torch.nn.Conv2d(16, 32, 3))
    res2 = prune_model(model2, [30, 80], TileGeometry(16), method="unstructured")
    frac = float(res2.masks["2"].float().mean())
    assert abs(frac - 0.8) < 0.01


def test_prune_tensors_dub_matches_tile_levels_after():
    """Every D.U.B.-processed tile lands exactly on a power-of-two level, so no non-zero LSC is between levels."""
    rng = np.random.default_rng(4)
    w = torch.from_numpy(rng.standard_normal((64, 32, 3, 3)).astype(F32))
    geo = TileGeometry(32)
    res = prune_tensors({"w": w}, 75.0, geo)
    m = w.reshape(64, -1).numpy()
    for a in range(2):
        for b in range(9):
            nz = (m[a * 32:(a + 1) * 32, b * 32:(b + 1) * 32] != 0).sum(axis=1)
            act = res.layers[0].action[a, b]
            if act in (2, 3, 4) and nz.max() > 0:
                assert nz.max() == nz.min()
                assert (nz.max() & (nz.max() - 1)) == 0 or act == 4 and nz.max() == 31

"""The closed-form D.U.B. regularizer against docs/method.md §11 (TV6-TV10, from docs/test-vectors.json), the reference's autograd
formulation with its gradient gate, and finite differences."""
import itertools

import pytest
import torch

from crossbar_lens_train.crossbar import CrossbarGeometry
from crossbar_lens_train.regularizer import HOYER_EPSILON as HOYER_EPSILON_CODE
from crossbar_lens_train.regularizer import (DubRegularizer, dub_loss_and_grad, dub_loss_and_grads_fused, hoyer_square,
                                             hoyer_square_gradient, reference_dub_loss)
from vectors import HOYER_EPSILON, TV

D = torch.float64


def t(values):
    return torch.tensor(values, dtype=D)


def within(got, expected, tolerance):
    """Every element within an absolute tolerance (the vectors' own bound, no relative slack)."""
    got = torch.as_tensor(got, dtype=D)
    return bool(((got - t(expected)).abs() <= tolerance).all())


@pytest.mark.parametrize("case", [c for c in TV["TV6"]["cases"] if not c.get("exact")], ids=lambda c: str(c["v"]))
def test_tv6_hoyer_values(case):
    assert TV["TV6"]["epsilon"] == HOYER_EPSILON == HOYER_EPSILON_CODE
    assert abs(float(hoyer_square(t(case["v"]))) - case["h"]) <= TV["TV6"]["tolerance"]


def test_tv6_all_zero_is_exactly_zero():
    for case in (c for c in TV["TV6"]["cases"] if c.get("exact")):
        assert float(hoyer_square(t(case["v"]))) == case["h"]
        assert float(hoyer_square(t(case["v"]), epsilon=0.0 + 1e-6)) == case["h"]


def test_tv6_epsilon_zero():
    case = TV["TV6"]["atEpsilonZero"]
    assert abs(float(hoyer_square(t(case["v"]), epsilon=0.0)) - case["h"]) <= case["tolerance"]


@pytest.mark.parametrize("case", TV["TV7"]["cases"], ids=lambda c: str(c["v"]))
def test_tv7_hoyer_gradient_eps0(case):
    got = hoyer_square_gradient(t(case["v"]), epsilon=TV["TV7"]["epsilon"])
    assert within(got, case["gradient"], case["tolerance"]), got
    # and it is the derivative: autograd of S1^2/S2
    v = t(case["v"]).requires_grad_(True)
    (v.abs().sum() ** 2 / (v ** 2).sum()).backward()
    assert torch.allclose(got, v.grad, atol=1e-12)


def _matrix_weight(rows):
    return t(rows).view(len(rows), len(rows[0]), 1, 1)


def test_tv8_variance_and_gate_q2():
    tv = TV["TV8"]
    ex, tol = tv["expected"], tv["tolerance"]
    w = _matrix_weight(tv["input"])
    geo = CrossbarGeometry(tv["T"], tv["q"])
    m = w.view(len(tv["input"]), -1)
    assert within(hoyer_square(m), ex["h"], tol["h"])
    loss, grad = dub_loss_and_grad(w, geo, tv["lambda"])
    assert abs(float(loss) - tv["lambda"] * ex["variance"]) <= tol["variance"]
    assert within(grad.view_as(m), ex["gradient"], tol["gradient"]), grad
    # Row 0 gets nothing; exact zeros get nothing.
    assert torch.count_nonzero(grad.view_as(m)[0]) == 0
    # The chain rule with the listed dv/dh: gated, only the row above the crossbar mean gets lambda dv/dh dh/dw.
    for o, row in enumerate(m):
        dh = hoyer_square_gradient(row)
        assert bool(((grad.view_as(m)[o] - tv["lambda"] * ex["dVdHGated"][o] * dh).abs() <= tol["dVdH"] * dh.abs() + 1e-15).all())
    _, ungated = dub_loss_and_grad(w, geo, tv["lambda"], gate=False)
    assert within(ungated.view_as(m)[0], ex["ungatedGradientRow0"], tol["ungatedGradientRow0"])
    dh = hoyer_square_gradient(m[0])
    assert bool(((ungated.view_as(m)[0] - tv["lambda"] * ex["dVdH"][0] * dh).abs() <= tol["dVdH"] * dh.abs() + 1e-15).all())


def test_tv9_padding_counts_as_zero_hoyer():
    tv = TV["TV9"]
    ex, tol = tv["expected"], tv["tolerance"]
    w = _matrix_weight(tv["input"])
    m = w.view(len(tv["input"]), -1)
    geo = CrossbarGeometry(tv["T"], tv["q"])
    real = len(tv["input"])
    assert within(hoyer_square(m), ex["h"][:real], tol["h"])
    assert ex["h"][real:] == [0] * (geo.channels_per_crossbar - real)  # padded channels
    loss, grad = dub_loss_and_grad(w, geo, tv["lambda"])
    assert abs(float(loss) - tv["lambda"] * ex["variance"]) <= tol["variance"]
    g = grad.view_as(m)
    assert within(g[0], ex["gradientRow0"], tol["gradientRow0"]), g[0]
    assert within(g[1], ex["gradientRow1"], tol["gradientRow1"]), g[1]
    assert g[1, 0] == pytest.approx(ex["gradientRow1"][0], rel=0.05)
    assert torch.count_nonzero(g[1, 1:]) == 0
    # Both real rows are above the mean (lowered by the padding): the gate passes lambda dv/dh dh/dw.
    for o, row in enumerate(m):
        dh = hoyer_square_gradient(row)
        assert bool(((g[o] - tv["lambda"] * ex["dVdH"][o] * dh).abs() <= tol["dVdH"] * dh.abs() + 1e-15).all())


def test_tv9_exclude_padded_flag():
    tv = TV["TV9"]
    w = _matrix_weight(tv["input"])
    geo = CrossbarGeometry(tv["T"], tv["q"])
    loss, grad = dub_loss_and_grad(w, geo, 1.0, exclude_padded=True)
    h = [float(x) for x in hoyer_square(w.view(2, -1))]
    mean = sum(h) / 2
    assert float(loss) == pytest.approx(sum((x - mean) ** 2 for x in h), rel=1e-9)
    # d v / d h0 = 2 (h0 - mean) / 1
    dh = hoyer_square_gradient(t(tv["input"][0]))
    assert torch.allclose(grad.view(2, 4)[0], 2 * (h[0] - mean) * dh, atol=1e-9)
    assert torch.count_nonzero(grad.view(2, 4)[1]) == 0


def test_tv10_conv_layout():
    tv = TV["TV10"]
    ex, tol = tv["expected"], tv["tolerance"]
    w = t(tv["weight"])
    assert list(w.shape) == tv["weightShape"]
    assert torch.equal(w.flatten(1), t(ex["matrix"]))
    for b, tile in enumerate(ex["tiles"]):
        assert torch.equal(w.flatten(1)[:, b * tv["T"]:(b + 1) * tv["T"]], t(tile))
        assert within(hoyer_square(t(tile)), ex["tileHoyers"][b], tol["tileHoyers"])
        assert abs(float(hoyer_square(t(tile)).var()) - ex["tileVariances"][b]) <= tol["tileVariances"]
    loss, grad = dub_loss_and_grad(w, CrossbarGeometry(tv["T"], tv["q"]), tv["lambda"])
    assert abs(float(loss) / tv["lambda"] - ex["lossOverLambda"]) <= tol["lossOverLambda"]
    assert within(grad, ex["gradient"], tol["gradient"]), grad


SHAPES = [(16, 3, 3, 3), (10, 7, 3, 3), (33, 5, 1, 1), (8, 16, 3, 3), (5, 2, 2, 2)]
GEOMETRIES = [(4, 1), (8, 1), (8, 2), (16, 1), (16, 4), (32, 2)]


def _random_weight(shape, seed):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(shape, generator=g, dtype=D)
    # Exact zeros (pruned weights) and one all-zero column segment.
    w[torch.rand(shape, generator=g) < 0.2] = 0
    w.view(shape[0], -1)[0, :3] = 0
    return w


@pytest.mark.parametrize("shape, geo, gate, exclude", [
    (s, g, gate, ex) for (s, g), gate, ex in itertools.product(itertools.product(SHAPES, GEOMETRIES), [True, False], [False, True])
])
def test_matches_reference_autograd(shape, geo, gate, exclude):
    geometry = CrossbarGeometry(*geo)
    if geometry.channels_per_crossbar == 1:
        pytest.skip("R = 1")
    seed = hash((shape, geo)) % 1000
    w = _random_weight(shape, seed)
    lam = 0.37
    loss, grad = dub_loss_and_grad(w, geometry, lam, gate=gate, exclude_padded=exclude)
    wr = w.clone().requires_grad_(True)
    ref = reference_dub_loss([wr], geometry, lam, gate=gate, exclude_padded=exclude)
    ref.backward()
    assert float(loss) == pytest.approx(float(ref), rel=1e-12, abs=1e-15)
    assert torch.allclose(grad, wr.grad, rtol=1e-9, atol=1e-12), (grad - wr.grad).abs().max()


def test_regularizer_apply_adds_to_existing_grads_float32():
    torch.manual_seed(0)
    convs = [torch.nn.Conv2d(3, 16, 3), torch.nn.Conv2d(16, 24, 3)]
    weights = [c.weight for c in convs]
    before = [torch.randn_like(w) * 1e-5 for w in weights]
    for w, b in zip(weights, before):
        w.grad = b.clone()
    reg = DubRegularizer(CrossbarGeometry(16, 1), lam=1e-3)
    value = reg.apply(weights)
    wr = [w.detach().clone().requires_grad_(True) for w in weights]
    ref = reference_dub_loss(wr, CrossbarGeometry(16, 1), 1e-3)
    ref.backward()
    assert value == pytest.approx(float(ref), rel=1e-5)
    for w, r, b in zip(weights, wr, before):
        assert torch.allclose(w.grad, b + r.grad, rtol=1e-4, atol=1e-7)  # float32 rounding of both


@pytest.mark.parametrize("shape, geo, exclude", [((6, 3, 2, 2), (8, 1), False), ((9, 5, 1, 1), (4, 2), True), ((12, 2, 3, 3), (16, 2), False)])
def test_ungated_gradient_is_the_true_gradient_finite_differences(shape, geo, exclude):
    geometry = CrossbarGeometry(*geo)
    w = torch.randn(shape, generator=torch.Generator().manual_seed(3), dtype=D)
    _, grad = dub_loss_and_grad(w, geometry, 1.0, gate=False, exclude_padded=exclude)
    step = 1e-6
    flat = w.view(-1)
    for i in range(0, flat.numel(), max(1, flat.numel() // 25)):
        old = float(flat[i])
        flat[i] = old + step
        up, _ = dub_loss_and_grad(w, geometry, 1.0, gate=False, exclude_padded=exclude)
        flat[i] = old - step
        down, _ = dub_loss_and_grad(w, geometry, 1.0, gate=False, exclude_padded=exclude)
        flat[i] = old
        fd = (float(up) - float(down)) / (2 * step)
        assert fd == pytest.approx(float(grad.view(-1)[i]), rel=1e-5, abs=1e-8)


def test_gated_gradient_is_the_positive_part_per_segment():
    """Finite differences of v_t with respect to h, gated: columns at or below the crossbar mean get nothing."""
    geometry = CrossbarGeometry(8, 1)
    w = torch.randn(8, 2, 2, 2, generator=torch.Generator().manual_seed(5), dtype=D)
    _, gated = dub_loss_and_grad(w, geometry, 1.0)
    _, plain = dub_loss_and_grad(w, geometry, 1.0, gate=False)
    h = hoyer_square(w.view(8, 1, 8))[:, 0]
    above = h > h.mean()
    m_gated, m_plain = gated.view(8, 8), plain.view(8, 8)
    assert torch.allclose(m_gated[above], m_plain[above])
    assert torch.count_nonzero(m_gated[~above]) == 0


@pytest.mark.parametrize("geo", [(16, 1), (8, 2), (4, 4), (32, 1)])
@pytest.mark.parametrize("gate", [True, False])
def test_all_layers_at_once_equals_layer_by_layer(geo, gate):
    # The fused pass (one (crossbars, R, T) tensor for every layer) against dub_loss_and_grad per layer,
    # with channel and input counts that leave partial crossbars, and a zero crossbar.
    geometry = CrossbarGeometry(*geo)
    g = torch.Generator().manual_seed(11)
    weights = [torch.randn(s, generator=g, dtype=D) for s in [(10, 3, 3, 3), (24, 10, 3, 3), (7, 24, 1, 1), (33, 5)]]
    weights[1][:8, :16] = 0
    loss, grads = dub_loss_and_grads_fused(weights, geometry, 1e-3, gate=gate)
    ref = [dub_loss_and_grad(w, geometry, 1e-3, gate=gate) for w in weights]
    assert float(loss) == pytest.approx(sum(float(l) for l, _ in ref), rel=1e-12)
    for got, (_, want), w in zip(grads, ref, weights):
        assert got.shape == w.shape and torch.allclose(got, want, rtol=1e-10, atol=1e-15)
    # DubRegularizer (layer by layer on a CPU, this pass on a GPU) gives the same numbers.
    reg_loss, reg_grads = DubRegularizer(geometry, 1e-3, gate=gate).loss_and_grads(weights)
    assert reg_loss == pytest.approx(float(loss), rel=1e-12)
    assert all(torch.allclose(a, b, rtol=1e-10, atol=1e-15) for a, b in zip(reg_grads, grads))

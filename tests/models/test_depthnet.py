from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from mtfas.errors import ConfigError, ShapeError
from mtfas.models import CDCN, CDConv2d, DepthNet, TeacherNet


def _expected_full_width_params() -> int:
    """Parameter count of method.md's DepthNet, counted from its description."""
    convs = [(3, 64)]
    convs += [(64, 128), (128, 196), (196, 128)]
    convs += [(128, 128), (128, 196), (196, 128)] * 2
    convs += [(384, 128), (128, 64), (64, 1)]
    weights = sum(cin * cout * 9 for cin, cout in convs)
    batchnorm = 2 * sum(cout for _, cout in convs[:-1])  # no BN after the last conv
    return weights + batchnorm


def test_full_width_parameter_count_matches_description_and_docstring():
    n = sum(p.numel() for p in DepthNet().parameters())
    assert n == _expected_full_width_params()
    assert f"{n:,}" in DepthNet.__doc__


def test_full_width_maps_256_to_32():
    net = DepthNet().eval()
    with torch.no_grad():
        out = net(torch.randn(1, 3, 256, 256))
    assert out.shape == (1, 1, 32, 32)
    assert (out >= 0).all()


@pytest.mark.parametrize("size", [(8, 8), (32, 48), (64, 64), (96, 40)])
@pytest.mark.parametrize("width", [0.1, 0.25])
def test_any_size_divisible_by_8_gives_input_over_8(size, width):
    out = DepthNet(width_mult=width)(torch.randn(2, 3, *size))
    assert out.shape == (2, 1, size[0] // 8, size[1] // 8)


def test_width_multiplier_scales_channels():
    small = sum(p.numel() for p in DepthNet(width_mult=0.25).parameters())
    full = sum(p.numel() for p in DepthNet().parameters())
    assert 0.04 < small / full < 0.09  # ~ width^2


@pytest.mark.parametrize("shape", [(1, 3, 20, 20), (1, 3, 64, 60), (1, 1, 64, 64), (3, 64, 64)])
def test_bad_input_shapes_are_clear_errors(shape):
    with pytest.raises(ShapeError):
        DepthNet(width_mult=0.1)(torch.zeros(shape))


def test_teacher_map_in_unit_interval_and_same_shape_as_student():
    x = torch.randn(3, 3, 32, 32)
    t = TeacherNet(width_mult=0.1)(x)
    s = DepthNet(width_mult=0.1)(x)
    assert t.shape == s.shape
    assert (t >= 0).all() and (t <= 1).all()


def test_cdc_convolution_matches_explicit_central_difference():
    torch.manual_seed(0)
    conv = CDConv2d(2, 3, theta=0.7).double()
    x = torch.randn(1, 2, 5, 6, dtype=torch.float64)
    # y(p0) = sum_pn w(pn) * (x(p0 + pn) - theta * x(p0)), zero padding.
    patches = F.unfold(x, 3, padding=1).view(1, 2, 9, 30)
    centre = x.view(1, 2, 1, 30)
    w = conv.weight.view(3, 2, 9)
    expected = torch.einsum("ocn,bcnp->bop", w, patches - 0.7 * centre).view(1, 3, 5, 6)
    torch.testing.assert_close(conv(x), expected)


def test_cdcn_differs_from_depthnet_only_by_theta():
    torch.manual_seed(0)
    a = CDCN(width_mult=0.1)
    torch.manual_seed(0)
    b = DepthNet(width_mult=0.1)
    b.load_state_dict(a.state_dict())
    x = torch.randn(2, 3, 16, 16)
    assert not torch.allclose(a(x), b(x))
    for m in a.modules():
        if isinstance(m, CDConv2d):
            m.theta = 0.0
    torch.testing.assert_close(a(x), b(x))


@pytest.mark.parametrize(
    "kwargs", [{"width_mult": 0}, {"theta": 1.5}, {"output_activation": "tanh"}]
)
def test_invalid_configuration(kwargs):
    with pytest.raises(ConfigError):
        DepthNet(**kwargs)

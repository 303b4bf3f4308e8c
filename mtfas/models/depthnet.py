"""DepthNet and CDCN: the pixel-wise students of face anti-spoofing.

DepthNet (Liu, Jourabloo and Liu, "Learning Deep Models for Face Anti-Spoofing: Binary or
Auxiliary Supervision", CVPR 2018) in the form used by the CDCN code base (Yu et al.,
"Searching Central Difference Convolutional Networks for Face Anti-Spoofing", CVPR 2020):
CDCN with ``theta = 0`` is DepthNet, ``theta = 0.7`` is CDCN.

>>> import torch
>>> net = DepthNet(width_mult=0.25)
>>> net(torch.zeros(2, 3, 64, 64)).shape
torch.Size([2, 1, 8, 8])
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mtfas.errors import ConfigError, ShapeError

#: Output stride of DepthNet: the map is ``input / MAP_STRIDE`` on each side.
MAP_STRIDE = 8


class CDConv2d(nn.Conv2d):
    """3x3 central-difference convolution (CDC), bias-free.

    ``y = conv(x, w) - theta * conv(x, sum(w over the kernel window))``: with ``theta = 0``
    it is a plain convolution, which is what DepthNet uses.

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        theta: Weight of the central-difference term, in [0, 1].
    """

    def __init__(self, in_channels: int, out_channels: int, theta: float = 0.0) -> None:
        super().__init__(in_channels, out_channels, kernel_size=3, padding=1, bias=False)
        if not 0.0 <= theta <= 1.0:
            raise ConfigError(f"CDC theta must lie in [0, 1], got {theta}.")
        self.theta = float(theta)

    def forward(self, x: Tensor) -> Tensor:  # noqa: D102
        out = super().forward(x)
        if self.theta == 0.0:
            return out
        # The centre-difference term is a 1x1 convolution with the summed kernel.
        kernel_sum = self.weight.sum(dim=(2, 3), keepdim=True)
        return out - self.theta * F.conv2d(x, kernel_sum)


def _conv_bn_relu(cin: int, cout: int, theta: float) -> list[nn.Module]:
    return [CDConv2d(cin, cout, theta), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class DepthNet(nn.Module):
    """DepthNet: image ``(B, 3, H, W)`` to spoof-cue map ``(B, 1, H/8, W/8)``.

    Architecture (all convolutions 3x3, bias-free, each followed by BatchNorm + ReLU):
    stem 3->64; three blocks of three convolutions, 64->128->196->128 for the first and
    128->128->196->128 for the other two, each block ending in max-pool (3, stride 2, pad 1);
    the three block outputs are resized (bilinear) to ``H/8 x W/8`` and concatenated
    (384 channels); then 384->128, 128->64 (BN + ReLU) and 64->1 with the output activation.

    At full width (``width_mult=1``) it has **2,245,016** parameters (2,241,792
    convolution weights and 3,224 BatchNorm affine parameters) and maps a 256x256 face
    to a 32x32 map. ``width_mult`` scales every channel count, which keeps the network
    usable on a CPU; any input size divisible by 8 works.

    Args:
        width_mult: Multiplier applied to every channel count (> 0).
        theta: Central-difference weight (0 = DepthNet, 0.7 = CDCN).
        output_activation: ``"relu"`` for students (non-negative maps, the CDCN
            convention) or ``"sigmoid"`` for a map in [0, 1] (teachers).
    """

    def __init__(
        self,
        width_mult: float = 1.0,
        theta: float = 0.0,
        output_activation: Literal["relu", "sigmoid"] = "relu",
    ) -> None:
        super().__init__()
        if width_mult <= 0:
            raise ConfigError(f"width_mult must be positive, got {width_mult}.")
        if output_activation not in ("relu", "sigmoid"):
            raise ConfigError(
                f"output_activation must be 'relu' or 'sigmoid', got {output_activation!r}."
            )
        self.width_mult = float(width_mult)
        self.theta = float(theta)
        self.output_activation = output_activation

        def ch(n: int) -> int:
            return max(1, round(n * width_mult))

        c64, c128, c196 = ch(64), ch(128), ch(196)
        self.stem = nn.Sequential(*_conv_bn_relu(3, c64, theta))
        self.blocks = nn.ModuleList(
            nn.Sequential(
                *_conv_bn_relu(cin, c128, theta),
                *_conv_bn_relu(c128, c196, theta),
                *_conv_bn_relu(c196, c128, theta),
                nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
            )
            for cin in (c64, c128, c128)
        )
        self.head = nn.Sequential(
            *_conv_bn_relu(3 * c128, c128, theta),
            *_conv_bn_relu(c128, c64, theta),
            CDConv2d(c64, 1, theta),
        )

    def forward(self, x: Tensor) -> Tensor:
        """Map a batch of images to spoof-cue maps.

        Args:
            x: Images ``(B, 3, H, W)`` with ``H`` and ``W`` divisible by 8.

        Returns:
            Maps ``(B, 1, H/8, W/8)``.

        Raises:
            ShapeError: If the input is not ``(B, 3, H, W)`` with sides divisible by 8.
        """
        out = self.pre_activation(x)
        return torch.relu(out) if self.output_activation == "relu" else torch.sigmoid(out)

    def pre_activation(self, x: Tensor) -> Tensor:
        """The map before the output activation (checks the input size)."""
        check_input_size(x)
        size = (x.shape[-2] // MAP_STRIDE, x.shape[-1] // MAP_STRIDE)
        h = self.stem(x)
        features = []
        for block in self.blocks:
            h = block(h)
            features.append(h)
        # Block outputs are at strides 2, 4 and 8; bring them all to stride 8.
        features = [
            f if f.shape[-2:] == size else F.interpolate(f, size=size, mode="bilinear")
            for f in features
        ]
        depth: Tensor = self.head(torch.cat(features, dim=1))
        return depth


class CDCN(DepthNet):
    """CDCN (Yu et al., CVPR 2020): DepthNet with central-difference convolutions.

    Args:
        width_mult: Multiplier applied to every channel count.
        theta: Central-difference weight (0.7 in the paper).
    """

    def __init__(self, width_mult: float = 1.0, theta: float = 0.7) -> None:
        super().__init__(width_mult=width_mult, theta=theta, output_activation="relu")


def check_input_size(x: Tensor) -> None:
    """Raise a clear error unless ``x`` is ``(B, 3, H, W)`` with ``H, W`` divisible by 8.

    Args:
        x: A batch of images.

    Raises:
        ShapeError: Naming the shape received and what to do.
    """
    if x.dim() != 4 or x.shape[1] != 3:
        raise ShapeError(
            f"Expected a batch of RGB images (B, 3, H, W), got a tensor of shape {tuple(x.shape)}."
        )
    h, w = x.shape[-2:]
    if h % MAP_STRIDE or w % MAP_STRIDE or h < MAP_STRIDE or w < MAP_STRIDE:
        raise ShapeError(
            f"DepthNet needs an input size divisible by {MAP_STRIDE} (the map is input/8), "
            f"got {h}x{w}. Set the data module's image_size to a multiple of 8 "
            f"(e.g. {max(MAP_STRIDE, round(h / MAP_STRIDE) * MAP_STRIDE)})."
        )

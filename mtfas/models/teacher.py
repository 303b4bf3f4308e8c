"""The meta-teacher: an image-to-map network whose output supervises the student."""

from __future__ import annotations

from mtfas.models.depthnet import DepthNet


class TeacherNet(DepthNet):
    """DepthNet-shaped teacher producing a supervision map in [0, 1].

    The paper does not specify the teacher's architecture; this library uses a DepthNet
    (lighter by default) with a sigmoid output so its map has the student's shape,
    ``(B, 1, H/8, W/8)``. Live faces get a zero target regardless of the teacher's output
    (ZeroMap for live, LearnableMap for spoof); that masking happens in the system.

    Args:
        width_mult: Multiplier applied to DepthNet's channel counts (default 0.5).
        theta: Central-difference weight of its convolutions (default 0, plain DepthNet).
    """

    def __init__(self, width_mult: float = 0.5, theta: float = 0.0) -> None:
        super().__init__(width_mult=width_mult, theta=theta, output_activation="sigmoid")

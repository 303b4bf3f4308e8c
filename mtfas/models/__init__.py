"""Student and teacher networks."""

from mtfas.models.depthnet import CDCN, MAP_STRIDE, CDConv2d, DepthNet, check_input_size
from mtfas.models.score import map_score
from mtfas.models.teacher import TeacherNet

__all__ = [
    "CDCN",
    "MAP_STRIDE",
    "CDConv2d",
    "DepthNet",
    "TeacherNet",
    "check_input_size",
    "map_score",
]

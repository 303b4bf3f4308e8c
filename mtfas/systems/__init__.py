"""LightningModules: MT-FAS and the handcrafted-supervision baselines."""

from mtfas.systems.base import FASSystem
from mtfas.systems.inner_loop import (
    HigherInnerLoop,
    InnerLoop,
    InnerLoopResult,
    JVPInnerLoop,
    TorchFuncInnerLoop,
    make_inner_loop,
)
from mtfas.systems.meta_teacher import MetaTeacherSystem
from mtfas.systems.supervised import SupervisedSystem
from mtfas.systems.teacher_student import TeacherStudentSystem
from mtfas.systems.teaching import TeachingSystem

__all__ = [
    "FASSystem",
    "HigherInnerLoop",
    "InnerLoop",
    "InnerLoopResult",
    "JVPInnerLoop",
    "MetaTeacherSystem",
    "SupervisedSystem",
    "TeacherStudentSystem",
    "TeachingSystem",
    "TorchFuncInnerLoop",
    "make_inner_loop",
]

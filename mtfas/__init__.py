"""mtfas: Meta-Teacher face anti-spoofing on PyTorch Lightning.

>>> from mtfas import MetaTeacherSystem
"""

from mtfas.systems import FASSystem, MetaTeacherSystem, SupervisedSystem

__version__ = "0.1.0"

__all__ = ["FASSystem", "MetaTeacherSystem", "SupervisedSystem", "__version__"]

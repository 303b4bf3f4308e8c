"""Exceptions raised by mtfas.

Every error raised on bad input derives from :class:`MTFASError` and its message says
what was wrong and what to do about it.
"""

from __future__ import annotations


class MTFASError(Exception):
    """Base class of every error raised by mtfas on bad input or bad state."""


class ConfigError(MTFASError, ValueError):
    """A configuration value is invalid (unknown option, wrong input size, ...)."""


class ShapeError(MTFASError, ValueError):
    """Tensors or networks do not have the shapes the method needs."""


class MetricInputError(MTFASError, ValueError):
    """Scores or labels given to a metric cannot produce a meaningful value."""


class NonFiniteLossError(MTFASError, RuntimeError):
    """Training produced too many consecutive NaN or infinite losses."""


class DatasetError(MTFASError, ValueError):
    """A dataset on disk is missing, incomplete or not in the expected layout."""


class EmptySplitError(DatasetError):
    """A split (train, meta-validation, dev or test) holds no samples."""


class AnnotationError(DatasetError):
    """A face or eye annotation file is missing or cannot be parsed."""


class VideoReadError(DatasetError):
    """A video file is missing, corrupt or cannot be decoded."""


class EmptyVideoError(VideoReadError):
    """A video file is empty: zero bytes or no frames."""


class CacheError(MTFASError, RuntimeError):
    """A preprocessing cache is incomplete, locked by another run or holds other settings."""


class DatasetNotFoundError(DatasetError):
    """A benchmark's root folder is missing or does not hold the expected layout."""


class ProtocolError(DatasetError):
    """A benchmark protocol is unknown, or its protocol file is missing or malformed."""


class MissingVideoError(VideoReadError):
    """A video listed by a benchmark's protocol is not on disk."""


class TableRowError(DatasetError):
    """Rows of a user's data table are unusable; the message names each by line and path."""


class DatasetPermissionError(DatasetError):
    """A dataset file or folder exists but the user running mtfas may not read it."""


class DatasetWarning(UserWarning):
    """Something in a dataset is unusual but usable (e.g. a label contradicting a file name)."""


class CheckpointError(MTFASError, ValueError):
    """A checkpoint is missing, unreadable, or cannot be used for prediction or export."""


class MissingExtraError(MTFASError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""

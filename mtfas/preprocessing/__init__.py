"""Video preprocessing: face crops of benchmark videos (and still images), cached on disk.

Typical use::

    from mtfas.preprocessing import (
        EyePositionFile, PreprocessSettings, VideoJob, preprocess,
    )

    settings = PreprocessSettings(size=256, scale=1.3, sampling="even", n_frames=25)
    source = EyePositionFile()  # OULU-NPU: sibling .txt with eye positions
    jobs = [VideoJob("Train_files/1_1_01_1", root / "Train_files/1_1_01_1.avi", source)]
    result = preprocess(jobs, settings, "cache/", workers=4)
    print(result.summary())
    cache = result.open()  # CropCache: cache.index, cache.load(video), cache.crop(i)

See :mod:`mtfas.preprocessing.cache` for the layout on disk.
"""

from __future__ import annotations

from mtfas.preprocessing.annotations import EyePositionFile, FaceBoxFile, eyes_to_box
from mtfas.preprocessing.boxes import (
    AnnotationPath,
    Box,
    BoxSource,
    Fallback,
    Mirrored,
    Miss,
    Sibling,
)
from mtfas.preprocessing.cache import CropCache
from mtfas.preprocessing.crop import crop_face, crop_region
from mtfas.preprocessing.detector import DlibDetector
from mtfas.preprocessing.pipeline import (
    SKIP_REASONS,
    PreprocessCounts,
    PreprocessResult,
    preprocess,
)
from mtfas.preprocessing.settings import PreprocessSettings, select_frames
from mtfas.preprocessing.video import (
    IMAGE_SUFFIXES,
    VIDEO_SUFFIXES,
    apply_rotation,
    is_image,
    read_frames,
    read_image,
    rotation_meta,
    video_info,
)
from mtfas.preprocessing.worker import VideoFailure, VideoJob

__all__ = [
    "IMAGE_SUFFIXES",
    "SKIP_REASONS",
    "VIDEO_SUFFIXES",
    "AnnotationPath",
    "Box",
    "BoxSource",
    "CropCache",
    "DlibDetector",
    "EyePositionFile",
    "FaceBoxFile",
    "Fallback",
    "Mirrored",
    "Miss",
    "PreprocessCounts",
    "PreprocessResult",
    "PreprocessSettings",
    "Sibling",
    "VideoFailure",
    "VideoJob",
    "apply_rotation",
    "crop_face",
    "crop_region",
    "eyes_to_box",
    "is_image",
    "preprocess",
    "read_frames",
    "read_image",
    "rotation_meta",
    "select_frames",
    "video_info",
]

"""The ``face_boxes`` option of benchmarks without face annotations (CASIA-FASD, MSU-MFSD).

Neither release locates the faces, so by default a detector does: dlib's HOG frontal
face detector (:class:`~mtfas.preprocessing.DlibDetector`, no model file to download).
Many users precompute boxes with a stronger detector (MTCNN, RetinaFace); ``face_boxes``
points to them:

``face_boxes=None`` (default)
    dlib on every sampled frame.
``face_boxes="<folder>"``
    one box file per video, mirroring the video tree: ``<folder>/<video id>.face``, e.g.
    ``<folder>/train_release/1/HR_1.face`` for ``train_release/1/HR_1.avi``. One line per
    frame, ``frame x y w h`` (frames numbered from 0; commas or spaces), zeros for "no
    face": the format of Replay-Attack's face-locations
    (:class:`~mtfas.preprocessing.FaceBoxFile` with ``layout="frame_xywh"``). Idiap's
    ``bob.db.casia_fasd`` 2.0.10 ships exactly such a tree for all 600 CASIA-FASD videos
    (``bob/db/casia_fasd/face-locations/<split folder>/<subject>/<file>.face``, all-zero
    lines where its detector found no face): pass that ``face-locations`` folder as
    ``face_boxes``, unchanged. Frames a
    file lacks or marks as faceless, and videos without a file, go to dlib
    (``detector_fallback=True``, the default); with ``detector_fallback=False`` they are
    skipped and counted (``no_annotation`` / ``no_face`` in the preprocessing summary),
    and a video without a file fails (``bad_annotation``).

Box coordinates are pixels of the upright frame (after rotation). Each source gets its
own crop cache (:meth:`FaceBoxOption.tag`): ``dlib``, ``boxes-<hash of the folder>`` or
``boxes-<hash>+dlib``.

The synthetic releases (``mtfas synth --layout casia-fasd|msu-mfsd``) write the
generator's true boxes to ``<release>/mtfas_face_boxes/`` in this format: a
synthetic-only extra, not part of the official layout, read only when ``face_boxes``
points to it. The CASIA-FASD writer can name the tree ``face-locations`` and mark frames
faceless (``face_box_folder``, ``faceless_frames``), giving a tree in exactly Idiap's
format.

Not read here: MSU-MFSD's own ``.face`` files (beside the videos in some copies), whose
lines are ``frame, x1, y1, x2, y2, left eye x, y, right eye x, y`` with commas (per
Idiap's ``bob.db.msu_mfsd_mod`` 2.2.9, ``models.py``, ``File.bbx``): a different format;
convert them to ``frame x y w h`` to use them.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from mtfas.errors import DatasetNotFoundError
from mtfas.preprocessing import BoxSource, DlibDetector, FaceBoxFile, Fallback, Mirrored

#: Suffix of the box files.
FACE_BOX_SUFFIX = ".face"
#: Folder (relative to a synthetic release) holding its true boxes.
SYNTHETIC_FACE_BOXES = "mtfas_face_boxes"


class FaceBoxOption:
    """Where the faces of a benchmark without annotations come from.

    Args:
        face_boxes: None for the dlib detector, or a folder of per-video box files (see
            the module docstring).
        detector_fallback: With a folder: ask dlib about the frames the files miss.
    """

    def __init__(
        self, face_boxes: str | Path | None = None, detector_fallback: bool = True
    ) -> None:
        self.folder = None if face_boxes is None else Path(face_boxes).expanduser()
        self.detector_fallback = bool(detector_fallback)
        self._sources: dict[Path, BoxSource] = {}

    def tag(self) -> str:
        """Cache label of this source: ``dlib``, ``boxes-<hash>`` or ``boxes-<hash>+dlib``."""
        if self.folder is None:
            return "dlib"
        digest = hashlib.sha256(str(self.folder.resolve()).encode()).hexdigest()[:8]
        return f"boxes-{digest}" + ("+dlib" if self.detector_fallback else "")

    def source(self, root: Path) -> BoxSource:
        """The box source of the videos under ``root`` (built once per root).

        Raises:
            DatasetNotFoundError: If ``face_boxes`` is not a folder.
        """
        root = Path(root)
        if root not in self._sources:
            self._sources[root] = self._build(root)
        return self._sources[root]

    def _build(self, root: Path) -> BoxSource:
        if self.folder is None:
            return DlibDetector()
        if not self.folder.is_dir():
            raise DatasetNotFoundError(
                f"face_boxes folder {self.folder} does not exist (or is not a folder). It "
                "must mirror the video tree with one '<video id>.face' file per video "
                "('frame x y w h' per line); pass face_boxes=None to use the dlib detector"
            )
        files = FaceBoxFile(
            layout="frame_xywh",
            annotation_path=Mirrored(root, self.folder, FACE_BOX_SUFFIX),
            missing_ok=self.detector_fallback,
        )
        return Fallback(files, DlibDetector()) if self.detector_fallback else files


__all__ = ["FACE_BOX_SUFFIX", "SYNTHETIC_FACE_BOXES", "FaceBoxOption"]

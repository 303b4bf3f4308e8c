"""The :class:`Predictor`: attack scores of images and videos from a trained checkpoint.

Each frame goes through the training pipeline: the face box (dlib's HOG detector, a
given box, or the whole frame for pre-cropped faces) is enlarged by the crop scale (1.3)
into a square, resized to the model's input size and normalised as in training
(``mtfas.transforms.to_tensor``); its score is the mean of the student's map.
A video's score is the mean of its frame scores (:func:`mtfas.metrics.video_means`, the
same float64 mean as ``video_level`` evaluation); the decision is *attack* iff
``score >= threshold`` (float64), the dev threshold saved with the checkpoint, made at the
level that threshold was chosen at (the checkpoint's ``video_level``): per input (video
mean) by default, per frame for a frame-level threshold. Each frame's own comparison is
kept as its ``frame_decision``. Frames without a face and unreadable files are skipped, counted and
reported with the reason, never dropped silently.

>>> predictor = Predictor.from_checkpoint("runs/demo/last.ckpt")  # doctest: +SKIP
>>> result = predictor.predict(["face.jpg", "clip.mp4"])  # doctest: +SKIP
>>> print(result.summary())  # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from mtfas.errors import ConfigError, VideoReadError
from mtfas.inference.checkpoint import InferenceInfo, load_student
from mtfas.inference.inputs import InputFile, discover, read_input
from mtfas.metrics.functional import video_means
from mtfas.models.score import map_score
from mtfas.preprocessing.boxes import Box, BoxSource, Miss
from mtfas.preprocessing.crop import crop_face
from mtfas.preprocessing.detector import DlibDetector
from mtfas.preprocessing.settings import CROP_SCALE
from mtfas.transforms import to_tensor

__all__ = ["FRAME_COLUMNS", "INPUT_COLUMNS", "SKIP_MESSAGES", "Prediction", "Predictor"]

ATTACK, BONA_FIDE = "attack", "bona fide"
#: Columns of :attr:`Prediction.frames`.
FRAME_COLUMNS = (
    "input",
    "frame",
    "status",
    "score",
    "frame_decision",
    "x1",
    "y1",
    "x2",
    "y2",
    "reason",
)
#: Columns of :attr:`Prediction.inputs`.
INPUT_COLUMNS = (
    "input",
    "kind",
    "n_frames",
    "n_scored",
    "n_skipped",
    "score",
    "decision",
    "reason",
)
#: What each skip reason means and what to do.
SKIP_MESSAGES = {
    "no_face": "no face found by the dlib HOG frontal-face detector; give the face box "
    "(--box X1 Y1 X2 Y2) or, for images that are already face crops, --no-detect",
    "bad_box": "the face box is degenerate (zero size or not finite)",
    "unreadable_frame": "the frame could not be decoded",
    "unreadable_file": "the file could not be read as an image or video (corrupt, empty or an "
    "unsupported codec)",
    "unsupported_file": "not an image or a video (by its file suffix)",
}


@dataclass
class Prediction:
    """Scores of a prediction run.

    Attributes:
        inputs: One row per input file (:data:`INPUT_COLUMNS`): the mean score of its
            scored frames and the decision, or the reason it has none. At frame level an
            input of several frames has no decision (its frames do).
        frames: One row per frame (:data:`FRAME_COLUMNS`): ``status`` ``"scored"`` with
            score, the frame's own ``frame_decision`` and face box, or ``"skipped"`` with
            the reason.
        threshold: Decision threshold (attack iff ``score >= threshold``), or ``None``.
        checkpoint: The checkpoint the scores come from, if any.
        notes: Details of skipped files (e.g. why a video could not be opened).
        level: ``"video"``: the threshold was chosen on per-video mean scores and inputs
            are decided on their mean score; ``"frame"``: it was chosen on frame scores and
            the frame decisions are the decisions.
    """

    inputs: pd.DataFrame
    frames: pd.DataFrame
    threshold: float | None
    checkpoint: str | None = None
    notes: list[str] = field(default_factory=list)
    level: str = "video"

    @property
    def skipped(self) -> dict[str, int]:
        """Skipped frames (and unreadable files) by reason."""
        skipped = self.frames[self.frames["status"] == "skipped"]
        return {str(k): int(v) for k, v in skipped["reason"].value_counts().items()}

    @property
    def n_scored_inputs(self) -> int:
        """Inputs with at least one scored frame."""
        return int((self.inputs["n_scored"] > 0).sum())

    def summary(self) -> str:
        """A plain-text summary: counts, skips with their meaning, decisions."""
        n_frames = int((self.frames["status"] == "scored").sum())
        lines = [
            f"{self.n_scored_inputs} of {len(self.inputs)} input(s) scored ({n_frames} frames); "
            + (
                f"threshold {self.threshold:.6g} (attack iff score >= threshold)"
                if self.threshold is not None
                else "no threshold: decisions left empty"
            )
        ]
        if self.threshold is not None:
            lines.append(
                "decisions per input on the mean frame score (the threshold was chosen on "
                "video means)"
                if self.level == "video"
                else "decisions per frame (the threshold was chosen on frame scores); an "
                "input of several frames has none of its own: see its frames"
            )
        for reason, count in self.skipped.items():
            lines.append(f"skipped {count} x {reason}: {SKIP_MESSAGES.get(reason, reason)}")
        lines += self.notes
        row: Any  # an itertuples row of the inputs table
        for row in self.inputs.itertuples():
            score = "-" if pd.isna(row.score) else f"{row.score:.6g}"
            decision = row.decision or (row.reason and f"no score ({row.reason})") or ""
            lines.append(f"  {row.input}: score {score}  {decision}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: threshold, skip counts, and per input its frames."""
        frames = self.frames.replace({np.nan: None})
        inputs = []
        for row in self.inputs.replace({np.nan: None}).to_dict("records"):
            mine = frames[frames["input"] == row["input"]].drop(columns="input")
            row["frames"] = mine.to_dict("records")
            inputs.append(row)
        return {
            "checkpoint": self.checkpoint,
            "threshold": self.threshold,
            "decision_rule": "attack iff score >= threshold",
            "decision_level": self.level,
            "skipped": self.skipped,
            "inputs": inputs,
        }

    def save(self, path: str | Path) -> list[Path]:
        """Write the result: ``.json`` (everything), or ``.csv`` (inputs; frames beside it).

        A CSV output ``X.csv`` gets one row per input; the frames go to ``X.frames.csv``.

        Returns:
            The written files.

        Raises:
            ConfigError: If the suffix is neither ``.json`` nor ``.csv``.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix.lower() == ".json":
            path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
            return [path]
        if path.suffix.lower() == ".csv":
            frames = path.with_name(path.stem + ".frames.csv")
            self.inputs.to_csv(path, index=False)
            self.frames.to_csv(frames, index=False)
            return [path, frames]
        raise ConfigError(f"output {path} must end in .csv or .json.")


class Predictor:
    """Scores faces in images and videos with a trained student.

    Args:
        student: The detector network (images -> maps); put in eval mode.
        input_size: Side of the square network input.
        threshold: Decision threshold (attack iff ``score >= threshold``); ``None``
            leaves decisions empty.
        crop_scale: Enlargement of the face box before cropping (as in training).
        detect: Find the face with ``detector``; ``False`` takes the whole frame as the
            face crop (for pre-cropped faces). Ignored when ``box`` is given.
        box: A fixed face box ``(x1, y1, x2, y2)`` in pixels used for every frame.
        detector: Box source for ``detect`` (default :class:`DlibDetector`).
        max_frames: At most this many frames per video, evenly spread (``None``: all).
        batch_size: Faces per forward pass.
        device: Torch device.
        info: What the checkpoint said (set by :meth:`from_checkpoint`).
        video_level: Whether the threshold was chosen on per-video mean scores (decide
            each input on its mean) or on frame scores (decide each frame); ``None`` takes
            the checkpoint's ``video_level`` (``info``), video level if it does not say.
    """

    def __init__(
        self,
        student: nn.Module,
        input_size: int,
        threshold: float | None = None,
        crop_scale: float = CROP_SCALE,
        detect: bool = True,
        box: Sequence[float] | None = None,
        detector: BoxSource | None = None,
        max_frames: int | None = None,
        batch_size: int = 32,
        device: str | torch.device = "cpu",
        info: InferenceInfo | None = None,
        video_level: bool | None = None,
    ) -> None:
        if input_size < 8 or input_size % 8:
            raise ConfigError(f"input_size must be a positive multiple of 8, got {input_size}.")
        fixed: Box | None = None
        if box is not None:
            fixed = Box(*map(float, box))  # type: ignore[arg-type]  # the four coordinates
            if not fixed.is_valid:
                raise ConfigError(f"box must be x1 y1 x2 y2 with x2 > x1 and y2 > y1, got {fixed}.")
        if max_frames is not None and max_frames < 1:
            raise ConfigError(f"max_frames must be >= 1, got {max_frames}.")
        if threshold is not None and not math.isfinite(threshold):
            raise ConfigError(f"threshold must be a finite number, got {threshold}.")
        self.device = torch.device(device)
        self.student = student.to(self.device).eval()
        self.input_size = int(input_size)
        self.threshold = threshold
        self.crop_scale = float(crop_scale)
        self.detect = detect
        self.box = fixed
        self.detector = detector
        self.max_frames = max_frames
        self.batch_size = int(batch_size)
        self.info = info
        if video_level is None:
            video_level = info.video_level if info is not None else None
        self.video_level = True if video_level is None else bool(video_level)

    @classmethod
    def from_checkpoint(
        cls,
        path: str | Path,
        *,
        student: nn.Module | None = None,
        input_size: int | None = None,
        threshold: float | None = None,
        crop_scale: float | None = None,
        allowed_classes: Iterable[type | str] = (),
        **kwargs: Any,
    ) -> Predictor:
        """A predictor for the student of a checkpoint written while training an mtfas system.

        The student is rebuilt from the class and init args stored in the checkpoint;
        input size, crop scale and threshold come from the checkpoint unless given.
        The file is read as data (``torch.load(weights_only=True)``) and the student is
        built only from mtfas's networks or ``allowed_classes``
        (:mod:`mtfas.inference.checkpoint`): a crafted checkpoint is refused, never run.

        Args:
            path: The ``.ckpt`` file.
            student: The network, for checkpoints that do not record how to build it.
            input_size: Override of the stored input size.
            threshold: Override of the stored dev threshold.
            crop_scale: Override of the stored crop scale.
            allowed_classes: Student classes you trust besides mtfas's networks (class
                objects or ``"pkg.module.Class"``), for checkpoints of other students.
            **kwargs: Other :class:`Predictor` arguments (``detect``, ``box``, ...).

        Raises:
            CheckpointError: If the checkpoint is missing, unreadable, holds more than
                plain data, is not of an mtfas system, names a student class that is not
                allowed, or its student cannot be rebuilt.
            ConfigError: If the input size is unknown (pass ``input_size``).
        """
        net, info = load_student(path, student, allowed_classes=allowed_classes)
        size = input_size or info.input_size
        if size is None:
            raise ConfigError(
                f"the input size of {path} is unknown (it was trained without an mtfas data "
                "module); pass input_size=..."
            )
        return cls(
            net,
            size,
            threshold=info.threshold if threshold is None else threshold,
            crop_scale=info.crop_scale if crop_scale is None else crop_scale,
            info=info,
            **kwargs,
        )

    # ------------------------------------------------------------------ faces
    def face_box(self, image: np.ndarray, name: str = "", index: int = 0) -> Box | Miss:
        """Where the face of a frame is: the given box, the whole frame, or a detection."""
        if self.box is not None:
            return self.box
        if not self.detect:
            height, width = image.shape[:2]
            return Box(0.0, 0.0, float(width), float(height), "frame")
        if self.detector is None:
            self.detector = DlibDetector()
        answer = self.detector.locate(Path(name), [index], [image])[0]
        if answer is None:
            return Miss.NO_FACE
        if isinstance(answer, tuple):
            answer = Box(*map(float, answer))  # type: ignore[arg-type]  # the four coordinates
        if isinstance(answer, Box) and not answer.is_valid:
            return Miss.BAD_BOX
        return answer

    def crop(self, image: np.ndarray, box: Box) -> np.ndarray:
        """The network input of a face: ``input_size`` square uint8 RGB crop.

        A whole-frame box (``detect=False``) is cropped at scale 1 (the frame already is the
        enlarged face crop); other boxes are enlarged by :attr:`crop_scale`.
        """
        scale = 1.0 if box.origin == "frame" else self.crop_scale
        return crop_face(image, box, self.input_size, scale)

    @torch.inference_mode()
    def score_crops(self, crops: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
        """Attack scores (map means) of ``(N, S, S, 3)`` uint8 RGB face crops."""
        scores = []
        for start in range(0, len(crops), self.batch_size):
            batch = torch.stack(
                [to_tensor(np.asarray(c)) for c in crops[start : start + self.batch_size]]
            )
            maps = self.student(batch.to(self.device))
            scores.append(map_score(maps).double().cpu().numpy())
        return np.concatenate(scores) if scores else np.zeros(0)

    def decide(self, score: float) -> str:
        """``"attack"`` / ``"bona fide"`` at the threshold, ``""`` without threshold or score.

        The comparison is ``float(score) >= float(threshold)``, in float64.
        """
        if self.threshold is None or score is None or math.isnan(score):
            return ""
        return ATTACK if float(score) >= float(self.threshold) else BONA_FIDE

    @property
    def level(self) -> str:
        """``"video"`` or ``"frame"``: where decisions are made (see :attr:`video_level`)."""
        return "video" if self.video_level else "frame"

    def _input_decision(self, scored: Sequence[float], score: float) -> str:
        """An input's decision: on its mean at video level; at frame level only for one frame."""
        if self.video_level or len(scored) == 1:
            return self.decide(score)
        return ""

    # ------------------------------------------------------------------ inputs
    def predict(self, paths: str | Path | Sequence[str | Path]) -> Prediction:
        """Score image and video files, and every such file below given folders."""
        if isinstance(paths, (str, Path)):
            paths = [paths]
        return self._run(discover(paths))

    def predict_frames(self, frames: Iterable[np.ndarray], name: str = "frames") -> Prediction:
        """Score in-memory RGB uint8 frames as one video called ``name``."""
        return self._run([InputFile(Path(name), "array")], arrays={name: list(frames)})

    def _run(
        self, items: Sequence[InputFile], arrays: dict[str, list[np.ndarray]] | None = None
    ) -> Prediction:
        frame_rows: list[dict[str, Any]] = []
        input_rows: list[dict[str, Any]] = []
        notes: list[str] = []
        for item in items:
            name = str(item.path)
            rows, reason = self._frames_of(item, name, arrays, notes)
            frame_rows += rows
            scored = [r["score"] for r in rows if r["status"] == "scored"]
            score = _mean_score(scored)
            if not scored and reason is None:
                reasons = {r["reason"] for r in rows}
                reason = reasons.pop() if len(reasons) == 1 else "no frame scored"
            input_rows.append(
                {
                    "input": name,
                    "kind": item.kind,
                    "n_frames": sum(1 for r in rows if r["frame"] is not None),
                    "n_scored": len(scored),
                    "n_skipped": len(rows) - len(scored),
                    "score": score,
                    "decision": self._input_decision(scored, score),
                    "reason": "" if scored else reason,
                }
            )
        frames = pd.DataFrame(frame_rows, columns=list(FRAME_COLUMNS))
        inputs = pd.DataFrame(input_rows, columns=list(INPUT_COLUMNS))
        checkpoint = str(self.info.path) if self.info is not None else None
        return Prediction(inputs, frames, self.threshold, checkpoint, notes, self.level)

    def _frames_of(
        self,
        item: InputFile,
        name: str,
        arrays: dict[str, list[np.ndarray]] | None,
        notes: list[str],
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Frame rows of one input, and the reason when the whole file is unusable."""
        if item.kind == "unsupported":
            return [_skip(name, None, "unsupported_file")], "unsupported_file"
        source = (
            enumerate(arrays[name]) if arrays is not None else read_input(item, self.max_frames)
        )
        crops, rows = [], []
        try:
            for index, image in source:
                if image is None:
                    reason = "unreadable_file" if item.kind == "image" else "unreadable_frame"
                    rows.append(_skip(name, None if item.kind == "image" else index, reason))
                    continue
                box = self.face_box(image, name, index)
                if isinstance(box, Miss):
                    rows.append(_skip(name, index, box.value))
                    continue
                crops.append(self.crop(image, box))
                rows.append(
                    {
                        "input": name,
                        "frame": index,
                        "status": "scored",
                        "score": math.nan,
                        "frame_decision": "",
                        "x1": box.x1,
                        "y1": box.y1,
                        "x2": box.x2,
                        "y2": box.y2,
                        "reason": "",
                    }
                )
        except VideoReadError as exc:
            rows.append(_skip(name, None, "unreadable_file"))
            notes.append(f"{name}: {exc}")
            return rows, "unreadable_file"
        scores = iter(self.score_crops(crops)) if crops else iter(())
        for row in rows:
            if row["status"] == "scored":
                row["score"] = float(next(scores))
                row["frame_decision"] = self.decide(row["score"])
        return rows, None


def _mean_score(scores: Sequence[float]) -> float:
    """The mean frame score of one input, as evaluation averages a video (NaN if none)."""
    if not scores:
        return math.nan
    values = torch.tensor(scores, dtype=torch.float64)
    return float(video_means(values, torch.zeros(len(scores), dtype=torch.int64))[1][0])


def _skip(name: str, frame: int | None, reason: str) -> dict[str, Any]:
    return {
        "input": name,
        "frame": frame,
        "status": "skipped",
        "score": math.nan,
        "frame_decision": "",
        "x1": math.nan,
        "y1": math.nan,
        "x2": math.nan,
        "y2": math.nan,
        "reason": reason,
    }

"""The SiW data module, Spoof in the Wild (Liu et al., CVPR 2018).

It reads a copy of the official release unchanged (layout and protocol rules in
:mod:`mtfas.protocols.siw`). SiW has no protocol files: the video tables come from
listing ``Train/`` and ``Test/`` (sorted, so deterministic), and the protocols are rules on
the fields of the names. Every name form of the real release is read (``.mov`` and
``.mp4``; the ``.m``-marked live test videos such as ``Test/live/153/153-2-1-1-1.m.mov``;
names with an ``_<suffix>``, see :func:`mtfas.protocols.siw.parse_file_stem`; sources in
:mod:`mtfas.protocols.siw`). The species comes from the name's TypeID and MediumID; a
name whose folder (``live`` / ``spoof``) or subject folder disagrees with it gives one
:class:`~mtfas.errors.DatasetWarning` with the count, and the name wins. An attack whose
MediumID is outside the release's ranges (print 1-2, replay 1-4) and a video file whose
name is malformed are left out, named and counted in a warning and in the line
``prepare_data`` prints (:attr:`SiWDataModule.skipped_files`); the rest of the release
loads. Only when no file under a split folder has a SiW name is it a
:class:`~mtfas.errors.ProtocolError` (the root is probably not SiW).

Dev split: the release has none. ``dev_fraction`` of the training subjects (drawn with
``dev_seed``, independently of the protocol, see
:func:`mtfas.protocols.subjects.draw_dev_subjects`) form it, subject-disjoint from train,
or, with ``dev_subjects="idiap"``, the 10 Train subjects of Idiap's dev lists
(:data:`mtfas.protocols.siw.IDIAP_DEV_SUBJECTS`); the meta-validation slice is then
carved from the remaining training subjects. Under
protocol 1 the dev videos, being training videos, are sampled within their first
``train_frames`` frames too.

>>> dm = SiWDataModule("/data/SiW", protocol=2, subprotocol=3)  # doctest: +SKIP
>>> dm.video_table("test")["pai"].unique()  # doctest: +SKIP
array(['live', 'replay3'], dtype=object)
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from mtfas.datamodules.base import Split
from mtfas.datamodules.video import VideoDataModule
from mtfas.datamodules.video import listing as name_listing
from mtfas.errors import ConfigError, DatasetWarning, ProtocolError
from mtfas.preprocessing import BoxSource, DlibDetector, FaceBoxFile, Fallback
from mtfas.protocols.siw import (
    IDIAP_DEV_SUBJECTS,
    LABEL_FOLDERS,
    LAYOUT,
    P1_TRAIN_FRAMES,
    SIW_PAI_NAMES,
    SPLIT_FOLDERS,
    SUBPROTOCOLS,
    VIDEO_EXTENSIONS,
    SiWName,
    check_protocol,
    in_protocol,
    parse_file_stem,
)
from mtfas.protocols.subjects import draw_dev_subjects

COLUMNS = ["video", "label", "pai", "subject", "sensor", "type", "medium", "session"]
FACE_LAYOUTS = ("corners", "frame_xywh")


class SiWDataModule(VideoDataModule):
    """SiW under one of its three protocols (and a sub-protocol for protocols 2 and 3).

    Faces come from the ``.face`` file beside each video (by default one ``x1 y1 x2 y2``
    line per frame, :class:`~mtfas.preprocessing.FaceBoxFile`; ``face_layout`` because no
    public source confirms the format); frames without a usable line (and
    videos without a ``.face`` file) go to the dlib detector unless
    ``detector_fallback=False``, in which case they are skipped (a video without its
    ``.face`` file then fails, named in the error of ``setup``). Either way the skips
    are counted in the preprocessing summary.

    Args:
        root: Folder of the copy (holding ``Train/`` and ``Test/``).
        protocol: 1 (first 60 frames of training videos), 2 (leave one replay medium
            out) or 3 (print <-> replay).
        subprotocol: None for protocol 1; 1-4 for protocol 2 (the held-out replay
            medium); 1 (train print, test replay) or 2 (the reverse) for protocol 3.
        dev_fraction: Fraction of the training subjects carved out as the dev split.
        dev_seed: Seed of that draw.
        dev_subjects: None to draw the dev subjects (``dev_fraction``, ``dev_seed``);
            ``"idiap"`` for the 10 of Idiap's ``bob.db.siw`` dev lists; or a list of
            Train subject ids.
        train_frames: Protocol 1 samples the frames of each training (and dev) video
            among its first ``train_frames`` frames (60 in the paper).
        detector_fallback: Ask the dlib detector about frames that the ``.face`` file
            does not annotate.
        face_layout: Format of the ``.face`` lines: ``"corners"`` (``x1 y1 x2 y2``,
            line n is frame n; default) or ``"frame_xywh"`` (``frame x y w h``).
        **kwargs: :class:`~mtfas.datamodules.VideoDataModule` arguments (``crop_size``,
            ``n_frames``, ``cache_dir``, ...) and :class:`~mtfas.datamodules.FASDataModule`
            ones (``image_size``, ``batch_size``, ...).

    Raises:
        ProtocolError: If the protocol or sub-protocol is invalid.
        ConfigError: If ``dev_fraction``, ``dev_subjects``, ``train_frames`` or
            ``face_layout`` is invalid.
    """

    benchmark = "siw"
    title = "SiW"
    required_entries = ("Train", "Test")
    layout = LAYOUT
    video_extensions = (*VIDEO_EXTENSIONS, ".avi")
    pai_names = SIW_PAI_NAMES

    def __init__(
        self,
        root: str | Path,
        protocol: int = 1,
        subprotocol: int | None = None,
        dev_fraction: float = 0.2,
        dev_seed: int = 0,
        train_frames: int = P1_TRAIN_FRAMES,
        detector_fallback: bool = True,
        dev_subjects: Sequence[int] | Literal["idiap"] | None = None,
        face_layout: Literal["corners", "frame_xywh"] = "corners",
        **kwargs: Any,
    ) -> None:
        check_protocol(protocol, subprotocol)
        if not 0.0 < dev_fraction < 1.0:
            raise ConfigError(f"dev_fraction must lie in (0, 1), got {dev_fraction!r}")
        if face_layout not in FACE_LAYOUTS:
            raise ConfigError(f"face_layout must be one of {FACE_LAYOUTS}, got {face_layout!r}")
        self._dev_choice = _check_dev_subjects(dev_subjects)
        self.face_layout = face_layout
        if isinstance(train_frames, bool) or not isinstance(train_frames, int) or train_frames < 1:
            raise ConfigError(f"train_frames must be an integer >= 1, got {train_frames!r}")
        self.protocol = protocol
        self.subprotocol = subprotocol
        self.dev_fraction = float(dev_fraction)
        self.dev_seed = int(dev_seed)
        self.train_frames = train_frames
        self.detector_fallback = bool(detector_fallback)
        annotations = FaceBoxFile(layout=face_layout, missing_ok=self.detector_fallback)
        self._boxes: BoxSource = (
            Fallback(annotations, DlibDetector()) if self.detector_fallback else annotations
        )
        self._listings: dict[str, pd.DataFrame] = {}
        #: Video files left out of the listing, by reason (``"malformed"``, ``"medium"``,
        #: ``"duplicate"``), relative to the root; filled when a split is listed.
        self.skipped_files: dict[str, list[str]] = {}
        super().__init__(root, **kwargs)

    @classmethod
    def fold_plan(cls, init_args: dict[str, object]) -> tuple[str, list[int]] | None:
        """Protocols 2 and 3: ``("subprotocol", [1, ...])`` for ``mtfas folds``; else None."""
        valid = SUBPROTOCOLS.get(init_args.get("protocol", 1), ())  # type: ignore[call-overload]
        return ("subprotocol", list(valid)) if valid else None

    # ------------------------------------------------------------ video core hooks
    def cache_tag(self) -> str:
        """``siw-face[+dlib][-first<N>]``: box source and protocol 1's frame limit."""
        tag = "siw-face" + ("+dlib" if self.detector_fallback else "")
        tag += "-xywh" if self.face_layout == "frame_xywh" else ""
        return tag + (f"-first{self.train_frames}" if self.protocol == 1 else "")

    def box_source(self, video: str) -> BoxSource:
        """The ``.face`` file beside the video (with the detector as fallback)."""
        return self._boxes

    def frame_limit(self, video: str) -> int | None:
        """``train_frames`` for the Train videos under protocol 1, else None."""
        if self.protocol == 1 and video.startswith(f"{SPLIT_FOLDERS['train']}/"):
            return self.train_frames
        return None

    # ------------------------------------------------------------ tables
    def dev_subjects(self) -> list[int]:
        """The training subjects carved out as the dev split (same for every protocol).

        Raises:
            ProtocolError: If ``dev_subjects`` names subjects with no Train video, or
                leaves no Train subject for training.
        """
        listing = self.listing("train")
        if self._dev_choice is None:
            return draw_dev_subjects(listing["subject"], self.dev_fraction, self.dev_seed)
        on_disk = set(listing["subject"])
        if self._dev_choice == "idiap":
            chosen = [s for s in IDIAP_DEV_SUBJECTS if s in on_disk]
            absent = [] if chosen else list(IDIAP_DEV_SUBJECTS)
        else:
            chosen = sorted(set(self._dev_choice))
            absent = [s for s in chosen if s not in on_disk]
        if absent or not chosen or set(chosen) >= on_disk:
            raise ProtocolError(
                f"dev_subjects={self._dev_choice!r} must name Train subjects of {self.root} "
                f"and leave some for training; Train/ holds {len(on_disk)} subject(s)"
                + (f", not {absent}" if absent else "")
            )
        return chosen

    def video_table(self, split: Split) -> pd.DataFrame:
        """The videos of ``split`` under the protocol; no video is decoded.

        Columns: ``video`` (e.g. ``Train/spoof/003/003-1-3-2-1``), ``label``, ``pai``,
        ``subject``, ``sensor``, ``type``, ``medium``, ``session``.

        Raises:
            DatasetNotFoundError: If the root is missing or lacks ``Train``/``Test``.
            ProtocolError: If no video file under a split folder has a SiW name.
        """

        def build() -> pd.DataFrame:
            table = self.listing("test" if split == "test" else "train")
            if split != "test":
                is_dev = table["subject"].isin(self.dev_subjects())
                table = table[is_dev if split == "dev" else ~is_dev]
            fields = table[["subject", "sensor", "type", "medium", "session"]]
            names = [SiWName(*row) for row in fields.itertuples(index=False)]
            keep = [in_protocol(self.protocol, self.subprotocol, split, n) for n in names]
            return table[keep].reset_index(drop=True)

        return self.memoized_split(split, build)

    def listing(self, folder: str) -> pd.DataFrame:
        """Every usable video under ``Train/`` (``folder="train"``) or ``Test/``, sorted.

        Raises:
            DatasetNotFoundError: If the root is missing or lacks ``Train``/``Test``.
            ProtocolError: If no video file under a split folder has a SiW name.
        """
        if folder not in self._listings:
            self.check_root()
            self._listings[folder] = self._list(SPLIT_FOLDERS[folder])
        return self._listings[folder]

    def prepare_data(self) -> None:
        """As :meth:`VideoDataModule.prepare_data`, then the count of skipped files."""
        super().prepare_data()
        skipped = {k: len(v) for k, v in self.skipped_files.items() if v}
        if skipped:
            counts = ", ".join(f"{n} {reason}" for reason, n in skipped.items())
            print(
                f"{self.title}: left out of the listing: {counts} video file(s) (see the warnings)"
            )

    def _list(self, folder: str) -> pd.DataFrame:
        base = self.root / folder
        files = self.video_files(folder)
        rows: list[dict[str, object]] = []
        seen: set[str] = set()
        problems: dict[str, list[str]] = {
            "folder": [],
            "subject": [],
            "medium": [],
            "duplicate": [],
            "malformed": [],
        }
        for path in files:
            relative = path.relative_to(self.root).with_suffix("").as_posix()
            try:
                name = parse_file_stem(path.stem)
            except ProtocolError as exc:
                key = "medium" if "MediumID" in str(exc) else "malformed"
                problems[key].append(path.relative_to(self.root).as_posix())
                continue
            if relative in seen:
                problems["duplicate"].append(relative)
                continue
            seen.add(relative)
            parts = path.relative_to(base).parts
            if len(parts) < 2 or parts[0] != LABEL_FOLDERS[name.label]:
                problems["folder"].append(relative)
            if len(parts) == 3 and not (parts[1].isdigit() and int(parts[1]) == name.subject):
                problems["subject"].append(relative)
            rows.append(
                {
                    "video": relative,
                    "label": name.label,
                    "pai": name.pai,
                    "subject": name.subject,
                    "sensor": name.sensor,
                    "type": name.type,
                    "medium": name.medium,
                    "session": name.session,
                }
            )
        self._warn(folder, problems)
        for key in ("malformed", "medium", "duplicate"):
            self.skipped_files.setdefault(key, []).extend(problems[key])
        if files and not rows:
            raise ProtocolError(
                f"none of the {len(files)} video file(s) under {base} has a SiW name "
                f"<subject>-<sensor>-<type>-<medium>-<session>, e.g. {problems['malformed'][:3]}"
                f". Is {self.root} a copy of SiW?"
            )
        table = pd.DataFrame(rows, columns=COLUMNS)
        for column in COLUMNS[3:]:
            table[column] = table[column].astype("int64")
        return table

    def _warn(self, folder: str, problems: dict[str, list[str]]) -> None:
        messages = {
            "folder": "lie in a live/spoof folder that contradicts the TypeID of their name "
            "(1 live, 2-3 spoof); using the TypeID",
            "subject": "lie in a subject folder other than their name's subject; using the name",
            "medium": "are attacks with a MediumID this module does not know (print 1-2, "
            "replay 1-4); excluded",
            "duplicate": "exist with several extensions; using the first of "
            f"{list(self.video_extensions)}",
            "malformed": "have a name that is not <subject>-<sensor>-<type>-<medium>-"
            "<session> (optionally + '.m' or '_<suffix>'); excluded",
        }
        for key, videos in problems.items():
            if videos:
                warnings.warn(
                    f"{self.root / folder}: {len(videos)} video(s) {messages[key]}: "
                    f"{name_listing(videos)}",
                    DatasetWarning,
                    stacklevel=5,
                )


def _check_dev_subjects(value: object) -> list[int] | Literal["idiap"] | None:
    """Validate ``dev_subjects``: None, ``"idiap"`` or a non-empty list of subject ids."""
    if value is None:
        return None
    if value == "idiap":
        return "idiap"
    if (
        isinstance(value, str)
        or not isinstance(value, Sequence)
        or not value
        or any(isinstance(v, bool) or not isinstance(v, int) for v in value)
    ):
        raise ConfigError(
            "dev_subjects must be None (draw them), 'idiap' (bob.db.siw's 10 dev subjects) "
            f"or a non-empty list of Train subject ids, got {value!r}"
        )
    return [int(v) for v in value]

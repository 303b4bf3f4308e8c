"""The SiW data module, Spoof in the Wild (Liu et al., CVPR 2018).

It reads a copy of the official release unchanged (layout and protocol rules in
:mod:`mtfas.protocols.siw`). SiW has no protocol files: the video tables come from
listing ``Train/`` and ``Test/`` (sorted, so deterministic), and the protocols are rules on
the fields of the names. The species comes from the name's TypeID and MediumID; a name
whose folder (``live`` / ``spoof``) or subject folder disagrees with it gives one
:class:`~mtfas.errors.DatasetWarning` with the count, and the name wins. An attack whose
MediumID is unknown (the real ranges are unconfirmed) is excluded with a counted
warning; a file with a video extension whose name cannot be parsed at all is a
:class:`~mtfas.errors.ProtocolError` (the root is probably not SiW).

Dev split: SiW has none. ``dev_fraction`` of the training subjects (drawn with
``dev_seed``, independently of the protocol, see
:func:`mtfas.protocols.subjects.draw_dev_subjects`) form it, subject-disjoint from train;
the meta-validation slice is then carved from the remaining training subjects. Under
protocol 1 the dev videos, being training videos, are sampled within their first
``train_frames`` frames too.

>>> dm = SiWDataModule("/data/SiW", protocol=2, subprotocol=3)  # doctest: +SKIP
>>> dm.video_table("test")["pai"].unique()  # doctest: +SKIP
array(['live', 'replay3'], dtype=object)
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd

from mtfas.datamodules.base import Split
from mtfas.datamodules.video import VideoDataModule
from mtfas.errors import ConfigError, DatasetWarning, ProtocolError
from mtfas.preprocessing import BoxSource, DlibDetector, FaceBoxFile, Fallback
from mtfas.protocols.siw import (
    LABEL_FOLDERS,
    LAYOUT,
    P1_TRAIN_FRAMES,
    SIW_PAI_NAMES,
    SPLIT_FOLDERS,
    SUBPROTOCOLS,
    SiWName,
    check_protocol,
    in_protocol,
)
from mtfas.protocols.subjects import draw_dev_subjects

COLUMNS = ["video", "label", "pai", "subject", "sensor", "type", "medium", "session"]


class SiWDataModule(VideoDataModule):
    """SiW under one of its three protocols (and a sub-protocol for protocols 2 and 3).

    Faces come from the ``.face`` file beside each video (one ``x1 y1 x2 y2`` line per
    frame, :class:`~mtfas.preprocessing.FaceBoxFile`); frames without a usable line (and
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
        train_frames: Protocol 1 samples the frames of each training (and dev) video
            among its first ``train_frames`` frames (60 in the paper).
        detector_fallback: Ask the dlib detector about frames that the ``.face`` file
            does not annotate.
        **kwargs: :class:`~mtfas.datamodules.VideoDataModule` arguments (``crop_size``,
            ``n_frames``, ``cache_dir``, ...) and :class:`~mtfas.datamodules.FASDataModule`
            ones (``image_size``, ``batch_size``, ...).

    Raises:
        ProtocolError: If the protocol or sub-protocol is invalid.
        ConfigError: If ``dev_fraction`` or ``train_frames`` is out of range.
    """

    benchmark = "siw"
    title = "SiW"
    required_entries = ("Train", "Test")
    layout = LAYOUT
    video_extensions = (".mov", ".mp4", ".avi")
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
        **kwargs,
    ) -> None:
        check_protocol(protocol, subprotocol)
        if not 0.0 < dev_fraction < 1.0:
            raise ConfigError(f"dev_fraction must lie in (0, 1), got {dev_fraction!r}")
        if isinstance(train_frames, bool) or not isinstance(train_frames, int) or train_frames < 1:
            raise ConfigError(f"train_frames must be an integer >= 1, got {train_frames!r}")
        self.protocol = protocol
        self.subprotocol = subprotocol
        self.dev_fraction = float(dev_fraction)
        self.dev_seed = int(dev_seed)
        self.train_frames = train_frames
        self.detector_fallback = bool(detector_fallback)
        annotations = FaceBoxFile(layout="corners", missing_ok=self.detector_fallback)
        self._boxes: BoxSource = (
            Fallback(annotations, DlibDetector()) if self.detector_fallback else annotations
        )
        self._listings: dict[str, pd.DataFrame] = {}
        self._split_tables: dict[str, pd.DataFrame] = {}
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
        """The training subjects carved out as the dev split (same for every protocol)."""
        listing = self.listing("train")
        return draw_dev_subjects(listing["subject"], self.dev_fraction, self.dev_seed)

    def video_table(self, split: Split) -> pd.DataFrame:
        """The videos of ``split`` under the protocol; no video is decoded.

        Columns: ``video`` (e.g. ``Train/spoof/003/003-1-3-2-1``), ``label``, ``pai``,
        ``subject``, ``sensor``, ``type``, ``medium``, ``session``.

        Raises:
            DatasetNotFoundError: If the root is missing or lacks ``Train``/``Test``.
            ProtocolError: If a video file's name is not a SiW name.
        """
        if split not in ("train", "dev", "test"):
            raise ProtocolError(f"split must be one of ['train', 'dev', 'test'], got {split!r}")
        if split not in self._split_tables:
            folder = "test" if split == "test" else "train"
            table = self.listing(folder)
            if split != "test":
                is_dev = table["subject"].isin(self.dev_subjects())
                table = table[is_dev if split == "dev" else ~is_dev]
            names = [SiWName(*row) for row in table[
                ["subject", "sensor", "type", "medium", "session"]].itertuples(index=False)]
            keep = [in_protocol(self.protocol, self.subprotocol, split, n) for n in names]
            self._split_tables[split] = table[keep].reset_index(drop=True)
        return self._split_tables[split].copy()

    def listing(self, folder: str) -> pd.DataFrame:
        """Every usable video under ``Train/`` (``folder="train"``) or ``Test/``, sorted.

        Raises:
            DatasetNotFoundError: If the root is missing or lacks ``Train``/``Test``.
            ProtocolError: If a video file's name is not a SiW name.
        """
        if folder not in self._listings:
            self.check_root()
            self._listings[folder] = self._list(SPLIT_FOLDERS[folder])
        return self._listings[folder]

    def _list(self, folder: str) -> pd.DataFrame:
        base = self.root / folder
        files = sorted(
            p for p in base.rglob("*")
            if p.suffix.lower() in self.video_extensions and not p.name.startswith(".")
            and p.is_file()
        )
        rows: list[dict[str, object]] = []
        seen: set[str] = set()
        problems: dict[str, list[str]] = {"folder": [], "subject": [], "medium": [],
                                          "duplicate": []}
        for path in files:
            relative = path.relative_to(self.root).with_suffix("").as_posix()
            try:
                name = SiWName.parse(path.stem)
            except ProtocolError as exc:
                if "MediumID" in str(exc):
                    problems["medium"].append(relative)
                    continue
                raise ProtocolError(
                    f"{path}: {exc}. Is {self.root} a copy of SiW? Move other files out of "
                    f"{folder}/."
                ) from None
            if relative in seen:
                problems["duplicate"].append(relative)
                continue
            seen.add(relative)
            parts = path.relative_to(base).parts
            if len(parts) < 2 or parts[0] != LABEL_FOLDERS[name.label]:
                problems["folder"].append(relative)
            if len(parts) == 3 and not (parts[1].isdigit() and int(parts[1]) == name.subject):
                problems["subject"].append(relative)
            rows.append({
                "video": relative, "label": name.label, "pai": name.pai,
                "subject": name.subject, "sensor": name.sensor, "type": name.type,
                "medium": name.medium, "session": name.session,
            })
        self._warn(folder, problems)
        table = pd.DataFrame(rows, columns=COLUMNS)
        for column in COLUMNS[3:]:
            table[column] = table[column].astype("int64")
        return table

    def _warn(self, folder: str, problems: dict[str, list[str]]) -> None:
        messages = {
            "folder": "lie in a live/spoof folder that contradicts the TypeID of their name "
                      "(1 live, 2-3 spoof); using the TypeID",
            "subject": "lie in a subject folder other than their name's subject; using the "
                       "name",
            "medium": "are attacks with a MediumID this module does not know (print 1-2, "
                      "replay 1-4); excluded",
            "duplicate": "exist with several extensions; using the first of "
                         f"{list(self.video_extensions)}",
        }
        for key, videos in problems.items():
            if videos:
                warnings.warn(
                    f"{self.root / folder}: {len(videos)} video(s) {messages[key]}, e.g. "
                    f"{videos[0]}",
                    DatasetWarning,
                    stacklevel=5,
                )

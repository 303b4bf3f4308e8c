"""The OULU-NPU data module (Boulkenafet et al., FG 2017).

It reads a copy of the official release unchanged (layout in
:mod:`mtfas.protocols.oulu_npu`). A protocol line is ``label,video``, e.g.
``+1,1_1_01_1``: ``+1`` is live, negative labels are attacks. The species comes from
the File digit of the name (1 live, 2/3 print with printer 1/2, 4/5 replay on display
1/2); a sign that contradicts it gives a :class:`~mtfas.errors.DatasetWarning` and the
File digit wins.

>>> dm = OULUNPUDataModule("/data/OULU-NPU", protocol=3, fold=2)  # doctest: +SKIP
>>> dm.video_table("test").head()  # doctest: +SKIP
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from mtfas.datamodules.base import Split
from mtfas.datamodules.video import VideoDataModule
from mtfas.errors import DatasetWarning, ProtocolError
from mtfas.preprocessing import EyePositionFile
from mtfas.protocols.oulu_npu import (
    ALL_VIDEOS,
    FOLDED_PROTOCOLS,
    LAYOUT,
    N_FOLDS,
    OULU_PAI_NAMES,
    SPLIT_FOLDERS,
    OULULikeName,
    OULUName,
    check_protocol,
    protocol_file,
    read_protocol_file,
)


class OULUNPUDataModule(VideoDataModule):
    """OULU-NPU under one of its four protocols (and a fold for protocols 3 and 4).

    Faces are located from the eye positions of the ``.txt`` beside each video
    (:class:`~mtfas.preprocessing.EyePositionFile`).

    Args:
        root: Folder of the copy (holding ``Train_files/``, ``Dev_files/``,
            ``Test_files/``, ``Protocols/``).
        protocol: 1 (unseen environment), 2 (unseen attack instruments), 3 (unseen
            phone, six folds) or 4 (all three, six folds); or ``"all"``: every video of
            ``Train_files``/``Dev_files``/``Test_files`` as train/dev/test (no protocol
            file is read), the OULU-NPU domain of cross-dataset protocols.
        fold: 1-6 for protocols 3 and 4 (fold k tests on phone k); None for 1 and 2.
        eye_frame_base: Number that the eye-position files give the first frame: 0 in
            the official release (Idiap's ``bob.db.oulunpu`` 0.1.2, ``test.py``,
            ``test_annotations`` reads frame ``'0'`` of a real file; see
            :mod:`mtfas.protocols.oulu_npu`). Kept as a knob for re-encoded copies: with
            the wrong base every box is one frame off.
        **kwargs: :class:`~mtfas.datamodules.VideoDataModule` arguments (``crop_size``,
            ``n_frames``, ``cache_dir``, ...) and :class:`~mtfas.datamodules.FASDataModule`
            ones (``image_size``, ``batch_size``, ...).

    Raises:
        ProtocolError: If the protocol or fold is invalid.
    """

    benchmark = "oulu-npu"
    title = "OULU-NPU"
    required_entries = ("Train_files", "Dev_files", "Test_files", "Protocols")
    layout = LAYOUT
    video_extensions = (".avi",)
    pai_names = OULU_PAI_NAMES

    def __init__(
        self,
        root: str | Path,
        protocol: int | str = 1,
        fold: int | None = None,
        eye_frame_base: int = 0,
        **kwargs: Any,
    ) -> None:
        check_protocol(protocol, fold)
        self.protocol = protocol
        self.fold = fold
        self.eye_frame_base = int(eye_frame_base)
        self._boxes = EyePositionFile(frame_base=self.eye_frame_base)
        super().__init__(root, **kwargs)

    @classmethod
    def fold_plan(cls, init_args: dict[str, object]) -> tuple[str, list[int]] | None:
        """Protocols 3 and 4: ``("fold", [1, ..., 6])``; the others have no folds."""
        protocol = init_args.get("protocol", 1)
        if protocol in FOLDED_PROTOCOLS:
            return "fold", list(range(1, N_FOLDS + 1))
        return None

    def cache_tag(self) -> str:
        """``oulu-eyes<frame base>``: the base changes the boxes, so it separates caches."""
        return f"oulu-eyes{self.eye_frame_base}"

    def box_source(self, video: str) -> EyePositionFile:
        """The eye positions of the sibling ``.txt``."""
        return self._boxes

    def protocol_path(self, split: Split) -> Path:
        """The protocol file of ``split`` under the chosen protocol and fold."""
        return self.root.joinpath(protocol_file(self.protocol, self.fold, split))

    def video_table(self, split: Split) -> pd.DataFrame:
        """The videos of ``split`` under the protocol (and fold); no video is decoded.

        Columns: ``video`` (e.g. ``Train_files/1_1_01_1``), ``label`` (``live`` /
        ``attack``), ``pai`` (species from the File digit), ``subject`` (user id),
        ``phone``, ``session``, ``file``.

        Raises:
            DatasetNotFoundError: If the root is missing.
            ProtocolError: If the protocol file is missing or malformed.
            MissingVideoError: If a listed video is not on disk.
        """

        def build() -> pd.DataFrame:
            if self.protocol == ALL_VIDEOS:
                return self._folder_table(SPLIT_FOLDERS[split])
            path = self.protocol_path(split)
            table = self._table_of(path, SPLIT_FOLDERS[split])
            self.check_videos_exist(table, str(path))
            return table

        return self.memoized_split(split, build)

    def _folder_table(self, folder: str) -> pd.DataFrame:
        """Every video of ``folder`` (protocol ``"all"``), labelled from the File digit.

        Raises:
            ProtocolError: If a video file's name is not an OULU-NPU name.
        """
        lines = []
        for number, path in enumerate(sorted((self.root / folder).glob("*.avi")), start=1):
            parts = OULUName.parse(path.stem)
            lines.append((1 if parts.file == 1 else -1, path.stem, number))
        return self._table_of(self.root / folder, folder, lines)

    def _table_of(
        self, path: Path, folder: str, lines: list[tuple[int, str, int]] | None = None
    ) -> pd.DataFrame:
        return protocol_table(path, folder, OULUName.parse, lines)


#: Columns of :func:`protocol_table`.
PROTOCOL_COLUMNS = ["video", "label", "pai", "subject", "phone", "session", "file"]


def protocol_table(
    path: Path,
    folder: str,
    parse: Callable[[str], OULULikeName],
    lines: Iterable[tuple[int, str, int]] | None = None,
) -> pd.DataFrame:
    """The videos of an OULU-style protocol file (``+1,name`` / ``-1,name`` lines).

    Labels come from the File digit of each name (File 1 is live); a sign that says
    otherwise, and a video listed twice, are warned about (counted, first example named).

    Args:
        path: The protocol file (named in messages).
        folder: Folder of the videos, relative to the release root (``Dev_files``).
        parse: Parses a video name (``OULUName.parse``, or the partial-attack names').
        lines: ``(sign, name, line number)`` to use instead of reading ``path``.

    Returns:
        One row per video: :data:`PROTOCOL_COLUMNS`.

    Raises:
        ProtocolError: If a name does not parse (with the file and line).
    """
    rows = []
    contradicting: list[str] = []
    seen: set[str] = set()
    duplicates: list[str] = []
    for sign, name, number in read_protocol_file(path) if lines is None else lines:
        try:
            parts = parse(name)
        except ProtocolError as exc:
            raise ProtocolError(f"{path}, line {number}: {exc}") from None
        if name in seen:
            duplicates.append(name)
            continue
        seen.add(name)
        if (sign > 0) != (parts.file == 1):
            contradicting.append(f"line {number} '{sign:+d},{name}'")
        rows.append(
            {
                "video": f"{folder}/{name}",
                "label": "live" if parts.file == 1 else "attack",
                "pai": parts.pai,
                "subject": parts.user,
                "phone": parts.phone,
                "session": parts.session,
                "file": parts.file,
            }
        )
    if contradicting:
        warnings.warn(
            f"{path}: {len(contradicting)} label(s) contradict the File digit of the video "
            f"name (File 1 is live, the others attacks), e.g. {contradicting[0]}; using the "
            "File digit.",
            DatasetWarning,
            stacklevel=5,
        )
    if duplicates:
        warnings.warn(
            f"{path} lists {len(duplicates)} video(s) twice, e.g. {duplicates[0]}; using "
            "each once.",
            DatasetWarning,
            stacklevel=5,
        )
    return pd.DataFrame(rows, columns=PROTOCOL_COLUMNS)

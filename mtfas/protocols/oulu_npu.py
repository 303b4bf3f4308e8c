"""OULU-NPU's layout and protocols as plain data: names, protocol files and rules.

Shared by the data module (:mod:`mtfas.datamodules.oulu_npu`), which reads a copy, and
the synthetic writer (:mod:`mtfas.synthetic.layouts.oulu_npu`), which writes one, so the
two always agree. No heavy imports: usable in worker processes.

Layout of the official release (``root`` is the folder that holds it)::

    Train_files/1_1_01_1.avi   Phone_Session_User_File.avi, users 1-20
    Train_files/1_1_01_1.txt   eye positions, one line per frame:
                               frame, right eye x, y, left eye x, y (frames from 0)
    Dev_files/...              users 21-35
    Test_files/...             users 36-55
    Protocols/Protocol_1/Train.txt, Dev.txt, Test.txt
    Protocols/Protocol_2/...
    Protocols/Protocol_3/Train_1.txt .. Train_6.txt, Dev_1..6, Test_1..6
    Protocols/Protocol_4/...   (same six folds)

A protocol line is ``label,video``, e.g. ``+1,1_1_01_1``: ``+1`` is live, ``-1`` print and
``-2`` replay.

Checked against Idiap's interface ``bob.db.oulunpu`` 0.1.2 (PyPI): the protocol tables
(:func:`oulu_npu_protocols`) give exactly the videos of its 42 lists of the official
protocols (``bob/db/oulunpu/lists/Protocol_{1,2,3_k,4_k}/{train,dev,eval}``). The eye
files: ``query.py`` (``File.annotations``) reads each line as ``frame, x_eye_right,
y_eye_right, x_eye_left, y_eye_left`` and keys it by the frame number as written, and
``test.py`` (``test_annotations``, run on the real data) reads the annotation of frame
``'0'`` of the first video: the files number frames from 0 (the data module's
``eye_frame_base=0``). The right eye (subject's) is the one with the smaller x.

>>> lists = oulu_npu_protocols()
>>> [len(lists[f"Protocols/Protocol_1/{s}.txt"]) for s in ("Train", "Dev", "Test")]
[1200, 900, 600]
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Protocol

from mtfas.errors import ProtocolError

#: Species by File digit - 1; index 0 is live.
OULU_PAI_NAMES: tuple[str, ...] = ("live", "print1", "print2", "replay1", "replay2")
#: Folder of each split's videos.
SPLIT_FOLDERS: dict[str, str] = {"train": "Train_files", "dev": "Dev_files", "test": "Test_files"}
#: Stem of each split's protocol file.
PROTOCOL_STEMS: dict[str, str] = {"train": "Train", "dev": "Dev", "test": "Test"}
SPLIT_ORDER: tuple[str, ...] = ("train", "dev", "test")
#: Users of each split in the official release.
OFFICIAL_USERS: dict[str, range] = {
    "train": range(1, 21),
    "dev": range(21, 36),
    "test": range(36, 56),
}
PHONES: tuple[int, ...] = (1, 2, 3, 4, 5, 6)
SESSIONS: tuple[int, ...] = (1, 2, 3)
FILES: tuple[int, ...] = (1, 2, 3, 4, 5)
PROTOCOLS: tuple[int, ...] = (1, 2, 3, 4)
#: Protocols with six leave-one-phone-out folds.
FOLDED_PROTOCOLS: tuple[int, ...] = (3, 4)
N_FOLDS = 6
#: Pseudo-protocol of every video of the release, split by folder (Train_files, ...):
#: how cross-dataset protocols use OULU-NPU as a domain.
ALL_VIDEOS = "all"

_NAME = re.compile(r"^(\d+)_(\d+)_(\d+)_(\d+)$")
_LINE = re.compile(r"^([+-]?\d+)\s*[,;\s]\s*(\S+)$")

LAYOUT = """\
  Train_files/1_1_01_1.avi (+ 1_1_01_1.txt eye positions)   users 1-20
  Dev_files/...                                              users 21-35
  Test_files/...                                             users 36-55
  Protocols/Protocol_1/{Train,Dev,Test}.txt, Protocols/Protocol_2/...
  Protocols/Protocol_3/{Train,Dev,Test}_{1..6}.txt, Protocols/Protocol_4/..."""


class OULULikeName(Protocol):
    """A parsed video name with OULU-NPU's fields.

    :class:`OULUName`, and the names of the synthetic partial-attack release
    (``mtfas.synthetic.layouts.partial.PartialName``).
    """

    @property
    def phone(self) -> int: ...  # noqa: D102
    @property
    def session(self) -> int: ...  # noqa: D102
    @property
    def user(self) -> int: ...  # noqa: D102
    @property
    def file(self) -> int: ...  # noqa: D102
    @property
    def pai(self) -> str: ...  # noqa: D102


@dataclass(frozen=True)
class OULUName:
    """The parts of an OULU-NPU video name ``Phone_Session_User_File``.

    Attributes:
        phone: Phone (capture device), 1-6.
        session: Session (environment: place and lighting), 1-3.
        user: User id, 1-55.
        file: 1 live, 2/3 print (printer 1/2), 4/5 replay (display 1/2).
    """

    phone: int
    session: int
    user: int
    file: int

    @classmethod
    def parse(cls, name: str) -> OULUName:
        """Parse a name such as ``1_1_01_1`` (no folder, no extension).

        Raises:
            ProtocolError: If the name does not have four ``_``-separated numbers or the
                File digit is not 1-5.
        """
        match = _NAME.match(name)
        if match is None:
            raise ProtocolError(
                f"{name!r} is not an OULU-NPU video name Phone_Session_User_File such as '1_1_01_1'"
            )
        phone, session, user, file = (int(g) for g in match.groups())
        if file not in FILES:
            raise ProtocolError(f"video {name!r} has File digit {file}; expected 1-5")
        return cls(phone, session, user, file)

    def __str__(self) -> str:
        """The name, user zero-padded to two digits: ``1_1_01_1``."""
        return f"{self.phone}_{self.session}_{self.user:02d}_{self.file}"

    @property
    def pai(self) -> str:
        """Species name (from the File digit)."""
        return OULU_PAI_NAMES[self.file - 1]

    @property
    def label_sign(self) -> int:
        """Label of the official protocol files: +1 live, -1 print, -2 replay."""
        return 1 if self.file == 1 else (-1 if self.file in (2, 3) else -2)

    def protocol_line(self) -> str:
        """The line naming this video in a protocol file, e.g. ``+1,1_1_01_1``."""
        return f"{self.label_sign:+d},{self}"


def check_protocol(protocol: int | str, fold: int | None) -> None:
    """Check a protocol number (or ``"all"``) and fold.

    Raises:
        ProtocolError: If the protocol is not 1-4 or ``"all"``, a fold is missing for
            protocols 3 and 4 (1-6 required) or given for the others.
    """
    if protocol == ALL_VIDEOS:
        if fold is not None:
            raise ProtocolError(f"protocol 'all' has no folds; leave fold unset (got {fold!r})")
        return
    if protocol not in PROTOCOLS:
        raise ProtocolError(
            f"OULU-NPU has protocols 1-4 (or 'all': every video, split by folder, as "
            f"cross-dataset protocols use it), got protocol={protocol!r}"
        )
    if protocol in FOLDED_PROTOCOLS:
        if fold is None or fold not in range(1, N_FOLDS + 1):
            raise ProtocolError(
                f"OULU-NPU protocol {protocol} has six folds (test fold k holds out phone "
                f"k): pass fold=1..6, got fold={fold!r}. `mtfas folds` runs all six."
            )
    elif fold is not None:
        raise ProtocolError(
            f"OULU-NPU protocol {protocol} has no folds; leave fold unset (got fold={fold!r})"
        )


def protocol_file(protocol: int | str, fold: int | None, split: str) -> PurePosixPath:
    """Path of a protocol file relative to the root, e.g. ``Protocols/Protocol_3/Dev_2.txt``."""
    check_protocol(protocol, fold)
    stem = PROTOCOL_STEMS[split] + ("" if fold is None else f"_{fold}")
    return PurePosixPath("Protocols", f"Protocol_{protocol}", f"{stem}.txt")


def read_protocol_file(path: Path) -> list[tuple[int, str, int]]:
    """Read a protocol file.

    Blank lines are ignored; label and name may be separated by a comma, semicolon or
    spaces.

    Returns:
        ``(label, name, line_number)`` per video line (1-based line numbers).

    Raises:
        ProtocolError: If the file is missing or a line is not ``label,name``.
    """
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError as exc:
        raise ProtocolError(
            f"protocol file {path} is missing; a copy of OULU-NPU has "
            f"Protocols/Protocol_1..4 from the official release. Copy them into the root."
        ) from exc
    rows = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        match = _LINE.match(line)
        if match is None:
            raise ProtocolError(
                f"{path}, line {number}: expected 'label,video' such as '+1,1_1_01_1', got {line!r}"
            )
        rows.append((int(match.group(1)), match.group(2), number))
    return rows


def oulu_npu_videos(
    phones: Sequence[int] = PHONES,
    sessions: Sequence[int] = SESSIONS,
    users: Mapping[str, Sequence[int]] | None = None,
) -> list[tuple[str, OULUName]]:
    """Every video of a release: ``(split, name)`` for each split, phone, session, user, file.

    Args:
        phones: Phones 1-6 to include.
        sessions: Sessions 1-3 to include.
        users: Users of each split (default: the official ranges).
    """
    users = OFFICIAL_USERS if users is None else users
    return [
        (split, OULUName(phone, session, user, file))
        for split in SPLIT_ORDER
        for phone in phones
        for session in sessions
        for user in users[split]
        for file in FILES
    ]


def in_protocol(protocol: int, fold: int | None, split: str, name: OULUName) -> bool:
    """Whether a video of ``split`` belongs to that split of the protocol (and fold).

    The official rules: P1 trains and develops on sessions 1-2 and tests on session 3;
    P2 trains and develops on files 1, 2, 4 and tests on files 1, 3, 5; P3 fold k tests
    on phone k and trains and develops on the other phones; P4 applies all three.
    """
    test = split == "test"
    if protocol in (1, 4) and (name.session == 3) != test:
        return False
    if protocol in (2, 4) and name.file not in ((1, 3, 5) if test else (1, 2, 4)):
        return False
    return not (protocol in (3, 4) and (name.phone == fold) != test)


def oulu_npu_protocols(
    phones: Sequence[int] = PHONES,
    sessions: Sequence[int] = SESSIONS,
    users: Mapping[str, Sequence[int]] | None = None,
) -> dict[str, list[str]]:
    """The protocol files of a release, without rendering anything.

    Protocols 3 and 4 get a fold for each included phone (fold k holds out phone k); with
    all six phones these are the official six folds. Protocol 1 and 2 files are written
    even when empty (e.g. no session 3), so that a data module says the split is empty.

    Args:
        phones: Phones 1-6 in the release.
        sessions: Sessions 1-3 in the release.
        users: Users of each split (default: the official ranges).

    Returns:
        ``{path relative to the root: lines}``, e.g.
        ``{"Protocols/Protocol_1/Train.txt": ["+1,1_1_01_1", ...], ...}``; lines sorted
        by phone, session, user, file.
    """
    videos = oulu_npu_videos(phones, sessions, users)
    lists: dict[str, list[str]] = {}
    for protocol in PROTOCOLS:
        folds = [k for k in phones if k <= 6] if protocol in FOLDED_PROTOCOLS else [None]
        for fold in folds:
            for split in SPLIT_ORDER:
                chosen = [
                    name
                    for s, name in videos
                    if s == split and in_protocol(protocol, fold, split, name)
                ]
                chosen.sort(key=lambda n: (n.phone, n.session, n.user, n.file))
                path = protocol_file(protocol, fold, split).as_posix()
                lists[path] = [name.protocol_line() for name in chosen]
    return lists

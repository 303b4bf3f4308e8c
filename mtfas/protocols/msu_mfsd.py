"""MSU-MFSD's layout and official subject split as plain data.

Shared by the data module (:mod:`mtfas.datamodules.msu_mfsd`) and the synthetic writer
(:mod:`mtfas.synthetic.layouts.msu_mfsd`). No heavy imports.

Layout of the official release (Wen, Han, Jain, TIFS 2015; ``root`` holds it)::

    real/real_client<ID>_<laptop|android>_SD_scene01.<mov|mp4>
    attack/attack_client<ID>_<laptop|android>_SD_<ipad_video|iphone_video|printed_photo>_scene01.<mov|mp4>
    train_sub_list.txt      15 client ids, one per line
    test_sub_list.txt       20 client ids

Client ids are three digits in file names (``client001``). Each client has 8 videos:
per device (laptop webcam, ``.mov``; Android phone, ``.mp4``) one live video and three
attacks. Some copies nest the two folders under ``scene01/``; the data module accepts
both. Some phone videos are stored sideways (with or without rotation metadata).

The official lists (:data:`OFFICIAL_SPLIT`) were checked against two independent public
copies of ``train_sub_list.txt`` / ``test_sub_list.txt`` (they agree), and agree with the
copies Idiap's ``bob.db.msu_mfsd_mod`` 2.2.9 ships (``folds/train_sub_list.txt``,
``folds/test_sub_list.txt``); they are used only when a copy lacks the files and no lists
are given. The 280 video names with their extensions (:func:`msu_mfsd_videos`) are those
of that package's ``folds/msu_mfsd_mod_realvids.txt`` and ``msu_mfsd_mod_attackvids.txt``.

Rotated videos (same package, ``rotated_videos/rotated_videos.txt``, read by
``create.py``; ``models.py`` ``File.load`` flips them with ``video[:, :, ::-1, ::-1]``):
six live Android videos, of clients 3, 5, 6, 7, 8 and 9, are stored upside down, and
Idiap's interface turns their decoded frames by 180 degrees (:data:`IDIAP_ROTATED`;
``create.py`` notes that no attack video needs it). Whether these files also carry
rotation metadata that OpenCV would honour is not stated; the data module therefore
applies the 180 degrees only on request (``rotate="idiap"``), in place of the metadata.

Face files: ``models.py`` (``File.facefile``, ``File.bbx``) reads ``<video>.face`` beside
the video, comma-separated, one line per frame: ``frame, x1, y1, x2, y2`` (``bbx``
turns columns 4-5 into width and height) followed by the left and right eye's x, y. The
frame base of that column is not stated.

>>> MSUName.parse("attack_client003_android_SD_iphone_video_scene01").pai
'iphone_video'
>>> len(msu_mfsd_videos())
280
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from mtfas.errors import ProtocolError

#: Species names; index 0 is live.
MSU_PAI_NAMES: tuple[str, ...] = ("live", "printed_photo", "ipad_video", "iphone_video")
#: Capture devices, with the container of their videos.
DEVICES: tuple[str, ...] = ("laptop", "android")
EXTENSIONS: dict[str, str] = {"laptop": ".mov", "android": ".mp4"}
#: Attack species in the release's order of the file names.
ATTACKS: tuple[str, ...] = ("ipad_video", "iphone_video", "printed_photo")
#: Official split lists (client ids) as shipped with the release.
OFFICIAL_SPLIT: dict[str, tuple[int, ...]] = {
    "train": (2, 3, 5, 6, 7, 8, 9, 11, 12, 21, 22, 34, 53, 54, 55),
    "test": (1, 13, 14, 23, 24, 26, 28, 29, 30, 32, 33, 35, 36, 37, 39, 42, 48, 49, 50, 51),
}
#: Videos stored upside down: Idiap's interface turns them by 180 degrees
#: (``bob.db.msu_mfsd_mod`` 2.2.9, ``rotated_videos/rotated_videos.txt``).
IDIAP_ROTATED: tuple[str, ...] = tuple(
    f"real/real_client{c:03d}_android_SD_scene01" for c in (3, 5, 6, 7, 8, 9)
)
#: The list files at the root of a copy.
LIST_FILES: dict[str, str] = {"train": "train_sub_list.txt", "test": "test_sub_list.txt"}
#: Videos per client in the official release.
VIDEOS_PER_CLIENT = len(DEVICES) * (1 + len(ATTACKS))

_NAME = re.compile(
    r"^(real|attack)_client(\d+)_(laptop|android)_SD"
    r"(?:_(ipad_video|iphone_video|printed_photo))?_scene01$"
)
_ID = re.compile(r"\d+")

LAYOUT = """\
  real/real_client<ID>_<laptop|android>_SD_scene01.<mov|mp4>
  attack/attack_client<ID>_<laptop|android>_SD_<ipad_video|iphone_video|printed_photo>_scene01.<mov|mp4>
  train_sub_list.txt, test_sub_list.txt   (client ids; optional: official lists built in)
  (real/ and attack/ may also sit under scene01/)"""


@dataclass(frozen=True)
class MSUName:
    """The parts of an MSU-MFSD video name.

    Attributes:
        client: Client (subject) id.
        device: ``"laptop"`` or ``"android"``.
        pai: Species: ``"live"`` or an attack of :data:`ATTACKS`.
    """

    client: int
    device: str
    pai: str

    @classmethod
    def parse(cls, name: str) -> MSUName:
        """Parse a name without folder or extension.

        Raises:
            ProtocolError: If the name does not follow the release's naming.
        """
        match = _NAME.match(name)
        if match is None or (match.group(1) == "real") != (match.group(4) is None):
            raise ProtocolError(
                f"{name!r} is not an MSU-MFSD video name such as "
                "'real_client001_laptop_SD_scene01' or "
                "'attack_client001_android_SD_printed_photo_scene01'"
            )
        return cls(int(match.group(2)), match.group(3), match.group(4) or "live")

    def __str__(self) -> str:
        """The name, e.g. ``attack_client001_laptop_SD_ipad_video_scene01``."""
        if self.pai == "live":
            return f"real_client{self.client:03d}_{self.device}_SD_scene01"
        return f"attack_client{self.client:03d}_{self.device}_SD_{self.pai}_scene01"

    @property
    def folder(self) -> str:
        """``"real"`` or ``"attack"``."""
        return "real" if self.pai == "live" else "attack"

    @property
    def relative(self) -> PurePosixPath:
        """Path of the file relative to the videos' parent folder, with its extension."""
        return PurePosixPath(self.folder, f"{self}{EXTENSIONS[self.device]}")


def read_subject_list(path: Path) -> list[int]:
    """Read a split list leniently: ids separated by lines, commas or spaces.

    ``02``, ``2``, ``client002`` and ``client_2`` all read as 2; blank lines and lines
    starting with ``#`` are ignored.

    Raises:
        ProtocolError: If a token holds no number, or the list is empty.
    """
    ids: list[int] = []
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        for token in re.split(r"[,;\s]+", stripped):
            found = _ID.findall(token)
            if len(found) != 1:
                raise ProtocolError(
                    f"{path}, line {number}: expected client ids such as '02' or "
                    f"'client002', got {token!r}"
                )
            ids.append(int(found[0]))
    if not ids:
        raise ProtocolError(f"{path} lists no client id; restore it from the release")
    return list(dict.fromkeys(ids))


def check_split(train: Iterable[int], test: Iterable[int]) -> tuple[list[int], list[int]]:
    """Validate train and test client ids: non-empty and disjoint.

    Raises:
        ProtocolError: Naming the clients in both lists.
    """
    train_ids = sorted({int(c) for c in train})
    test_ids = sorted({int(c) for c in test})
    if not train_ids or not test_ids:
        raise ProtocolError(
            f"MSU-MFSD needs training and test clients, got train={train_ids}, test={test_ids}"
        )
    both = sorted(set(train_ids) & set(test_ids))
    if both:
        raise ProtocolError(
            f"clients {both} are both in the training and the test list; the lists must be disjoint"
        )
    return train_ids, test_ids


def msu_mfsd_videos(
    clients: Iterable[int] | None = None, devices: Iterable[str] = DEVICES
) -> list[MSUName]:
    """Every video of a release (default: the 35 official clients, both devices)."""
    if clients is None:
        clients = sorted(OFFICIAL_SPLIT["train"] + OFFICIAL_SPLIT["test"])
    return [
        MSUName(int(client), device, pai)
        for client in clients
        for device in devices
        for pai in ("live", *ATTACKS)
    ]

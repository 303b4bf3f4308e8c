"""Idiap Replay-Attack's layout and protocols as plain data: names, species, protocols.

Shared by the data module (:mod:`mtfas.datamodules.replay_attack`), which reads a copy,
and the synthetic writer (:mod:`mtfas.synthetic.layouts.replay_attack`), which writes
one. No heavy imports: usable in worker processes.

Layout of the official release (``root`` is the folder that holds it)::

    train/real/client001_session01_webcam_authenticate_controlled_1.mov
    train/attack/fixed/attack_print_client001_session01_highdef_photo_adverse.mov
    train/attack/hand/attack_mobile_client001_session01_mobile_video_controlled.mov
    devel/...  test/...
    enroll/...                 enrolment videos (face verification, never read here)
    face-locations/train/real/client001_session01_webcam_authenticate_controlled_1.face
                               one line per frame: frame x y w h (zeros: no face)

The species is the attack device (``print``, ``mobile``, ``highdef``); the support
(``fixed`` / ``hand``) is the attack folder. Source: Idiap's ``bob.db.replay`` 3.0.9
(PyPI), ``create.py`` (``parse_attack_filename``: device, client, camera, photo/video and
lighting are the 2nd, 3rd, 5th, 6th and 7th ``_`` fields, the support the parent folder;
``parse_real_filename``), ``models.py`` (``bbx``: ``frame x y w h`` face locations), and
``test.py`` (counts: 200 live videos, 60 / 60 / 80 per split; attacks 1000 in
``grandtest``, 200 ``print``, 400 ``mobile``, 400 ``highdef``, 30 / 30 / 40 % per split).

Protocols: ``grandtest`` (every video), and sub-protocols keeping every live video and
only the attacks of one device (``print``, ``mobile``, ``highdef``) or one support
(``fixed``, ``hand``).

>>> name = ReplayName.parse("attack_mobile_client007_session01_mobile_video_adverse")
>>> name.pai, name.medium, name.lighting
('mobile', 'video', 'adverse')
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from mtfas.errors import ProtocolError

#: Species names by id; index 0 is live.
REPLAY_PAI_NAMES: tuple[str, ...] = ("live", "print", "mobile", "highdef")
#: Folder of each split (devel is the dev split); enroll is never read.
SPLIT_FOLDERS: dict[str, str] = {"train": "train", "dev": "devel", "test": "test"}
SPLIT_ORDER: tuple[str, ...] = ("train", "dev", "test")
ENROLL_FOLDER = "enroll"
FACE_LOCATIONS = "face-locations"
DEVICES: tuple[str, ...] = ("print", "mobile", "highdef")
SUPPORTS: tuple[str, ...] = ("fixed", "hand")
LIGHTINGS: tuple[str, ...] = ("controlled", "adverse")
#: Attack device -> (camera that took the attack source, its medium) of each attack.
ATTACK_SOURCES: dict[str, tuple[tuple[str, str], ...]] = {
    "print": (("highdef", "photo"),),
    "mobile": (("mobile", "photo"), ("mobile", "video")),
    "highdef": (("highdef", "photo"), ("highdef", "video")),
}
PROTOCOLS: tuple[str, ...] = ("grandtest", *DEVICES, *SUPPORTS)
#: Clients of each split in the synthetic release (15 / 15 / 20, the paper's counts). The
#: real ids differ and are read from the names: 50 clients, with ids such as 3 and 21 and
#: 101-119 but not 0, 32 or 100 (``bob.db.replay`` 3.0.9, ``test.py``,
#: ``test09_queryClients``); which split holds which comes from the release's folders.
OFFICIAL_CLIENTS: dict[str, range] = {
    "train": range(1, 16),
    "dev": range(16, 31),
    "test": range(31, 51),
}
TAKES: tuple[int, ...] = (1, 2)

_LIVE = re.compile(r"^client(\d+)_session(\d+)_webcam_authenticate_(controlled|adverse)_(\d+)$")
_ATTACK = re.compile(
    r"^attack_(print|mobile|highdef)_client(\d+)_session(\d+)_(highdef|mobile)_"
    r"(photo|video)_(controlled|adverse)$"
)

LAYOUT = """\
  train/real/client001_session01_webcam_authenticate_controlled_1.mov
  train/attack/fixed/attack_print_client001_session01_highdef_photo_adverse.mov
  train/attack/hand/...   devel/...   test/...   (enroll/ is not used)
  face-locations/train/real/client001_session01_webcam_authenticate_controlled_1.face ..."""


@dataclass(frozen=True)
class ReplayName:
    """The parts of a Replay-Attack video name.

    Attributes:
        client: Client id.
        session: Session number.
        lighting: ``"controlled"`` or ``"adverse"``.
        device: Attack device (``print``, ``mobile``, ``highdef``); ``""`` for live.
        camera: Camera that took the attack source (``highdef``/``mobile``); ``""`` live.
        medium: ``"photo"`` or ``"video"`` for attacks; ``""`` live.
        take: Take number of a live video; 0 for attacks.
    """

    client: int
    session: int
    lighting: str
    device: str = ""
    camera: str = ""
    medium: str = ""
    take: int = 0

    @classmethod
    def parse(cls, name: str) -> ReplayName:
        """Parse a live or attack name (no folder, no extension).

        Raises:
            ProtocolError: If the name is neither pattern.
        """
        live = _LIVE.match(name)
        if live is not None:
            client, session, lighting, take = live.groups()
            return cls(int(client), int(session), lighting, take=int(take))
        attack = _ATTACK.match(name)
        if attack is not None:
            device, client, session, camera, medium, lighting = attack.groups()
            return cls(int(client), int(session), lighting, device, camera, medium)
        raise ProtocolError(
            f"{name!r} is not a Replay-Attack video name: expected "
            "client<ID>_session<NN>_webcam_authenticate_<controlled|adverse>_<take> or "
            "attack_<print|mobile|highdef>_client<ID>_session<NN>_<highdef|mobile>_"
            "<photo|video>_<controlled|adverse>"
        )

    def __str__(self) -> str:
        """The name as in the release, client zero-padded to three digits."""
        if not self.device:
            return (
                f"client{self.client:03d}_session{self.session:02d}_webcam_"
                f"authenticate_{self.lighting}_{self.take}"
            )
        return (
            f"attack_{self.device}_client{self.client:03d}_session{self.session:02d}_"
            f"{self.camera}_{self.medium}_{self.lighting}"
        )

    @property
    def is_live(self) -> bool:
        """Whether this is a bona fide (real) video."""
        return not self.device

    @property
    def pai(self) -> str:
        """Species: ``live`` or the attack device."""
        return "live" if self.is_live else self.device


def check_protocol(protocol: str) -> None:
    """Check a protocol name.

    Raises:
        ProtocolError: Naming the valid protocols.
    """
    if protocol not in PROTOCOLS:
        raise ProtocolError(
            f"Replay-Attack has protocols {list(PROTOCOLS)} (grandtest: every attack; "
            f"print/mobile/highdef: one attack device; fixed/hand: one support), got "
            f"protocol={protocol!r}"
        )


def in_protocol(protocol: str, name: ReplayName, support: str) -> bool:
    """Whether a video (with its attack support, ``""`` for live) is in the protocol."""
    if name.is_live or protocol == "grandtest":
        return True
    return protocol in (name.device, support)


def video_id(split: str, name: ReplayName, support: str = "") -> str:
    """Id (path relative to the root, no extension), e.g. ``train/attack/hand/attack_...``."""
    folder = SPLIT_FOLDERS[split] if split in SPLIT_FOLDERS else split
    if name.is_live:
        return f"{folder}/real/{name}"
    return f"{folder}/attack/{support}/{name}"


def replay_attack_videos(
    clients: Mapping[str, Iterable[int]],
    lightings: Iterable[str] = LIGHTINGS,
    takes: Iterable[int] = TAKES,
    supports: Iterable[str] = SUPPORTS,
    devices: Iterable[str] = DEVICES,
    session: int = 1,
) -> list[tuple[str, str, ReplayName]]:
    """Every video of a release: ``(split, support, name)`` (support ``""`` for live).

    With the defaults and the official client counts: 60/60/80 live and 300/300/400
    attack videos.
    """
    lightings, takes = list(lightings), list(takes)
    supports, devices = list(supports), list(devices)
    videos = []
    for split in SPLIT_ORDER:
        for client in clients[split]:
            for lighting in lightings:
                for take in takes:
                    videos.append((split, "", ReplayName(client, session, lighting, take=take)))
            for support in supports:
                for device in devices:
                    for camera, medium in ATTACK_SOURCES[device]:
                        for lighting in lightings:
                            name = ReplayName(client, session, lighting, device, camera, medium)
                            videos.append((split, support, name))
    return videos

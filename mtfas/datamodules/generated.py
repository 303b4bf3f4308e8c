"""Data modules whose release is rendered by a synthetic layout writer on first use.

:class:`GeneratedReleaseDataModule` is what the synthetic OULU-NPU and partial-attack data
modules share: the default ``root`` (a folder named by a hash of the release settings, so
other settings give another folder), ``prepare_data`` rendering the release there with
the layout's writer (:data:`mtfas.synthetic.layouts.LAYOUTS`; a complete release of the
same settings is reused) before preprocessing it like any copy, and ``check_root``
refusing a folder that holds no complete release of these settings.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from mtfas.datamodules.video import VideoDataModule, default_cache_base
from mtfas.errors import DatasetNotFoundError
from mtfas.synthetic.layouts import LAYOUTS, is_complete, users_by_split


class GeneratedReleaseDataModule(VideoDataModule):
    """A video data module over a synthetic release that it renders itself.

    Subclasses set :attr:`release_layout` and :attr:`release_title`, and fill
    :attr:`release_args` (the writer's keyword arguments, without ``workers`` and
    ``progress``) and :attr:`generate_workers` before calling ``super().__init__`` with
    ``root`` from :meth:`default_root` when the user gave none.

    Attributes:
        release_layout: The layout (a key of :data:`~mtfas.synthetic.layouts.LAYOUTS`).
        release_title: What the messages call the release (``synthetic OULU-NPU``).
        release_args: The writer's knobs.
        generate_workers: Rendering processes (0: this process).
    """

    release_layout: ClassVar[str]
    release_title: ClassVar[str]
    release_args: dict[str, Any]
    generate_workers: int

    @classmethod
    def default_root(cls, release_args: dict[str, Any]) -> Path:
        """``<cache base>/synthetic/<layout>-<hash of the release settings>``."""
        text = json.dumps(release_args, sort_keys=True)
        digest = hashlib.sha256(text.encode()).hexdigest()[:10]
        return default_cache_base() / "synthetic" / f"{cls.release_layout}-{digest}"

    @staticmethod
    def oulu_release_args(
        phones: Sequence[int],
        sessions: Sequence[int],
        users_per_split: Sequence[int],
        video_frames: int,
        video_size: int,
        data_seed: int,
        **layout_args: Any,
    ) -> dict[str, Any]:
        """The knobs of an OULU-like writer, normalised and checked now.

        Args:
            phones: Phones to render (sorted).
            sessions: Sessions to render (sorted).
            users_per_split: Users of train, dev and test (checked by
                :func:`~mtfas.synthetic.layouts.users_by_split`).
            video_frames: Frames per rendered video.
            video_size: Side of the rendered frames.
            data_seed: Seed of the generator.
            **layout_args: The layout's own knobs, kept as given (e.g. ``species``).

        Raises:
            ConfigError: If the user counts are invalid.
        """
        args: dict[str, Any] = {
            "phones": sorted(int(p) for p in phones),
            "sessions": sorted(int(s) for s in sessions),
            "users_per_split": [int(n) for n in users_per_split],
            **layout_args,
            "n_frames": int(video_frames),
            "size": int(video_size),
            "seed": int(data_seed),
        }
        users_by_split(args["users_per_split"])
        return args

    def release_settings(self) -> dict[str, Any]:
        """The settings the writer records in the release's marker.

        Those of the OULU-like writers: :attr:`release_args` with ``users_per_split``
        resolved to the users of each split, and the frame rate (25).
        """
        args = dict(self.release_args)
        users = users_by_split(args.pop("users_per_split"))
        return {"users": users, **args, "fps": 25.0}

    def check_root(self) -> None:
        """Check that the release was generated (by ``prepare_data``).

        Raises:
            DatasetNotFoundError: If ``root`` holds no complete release of these settings.
        """
        if not is_complete(self.root, self.release_layout, self.release_settings()):
            raise DatasetNotFoundError(
                f"no complete {self.release_title} release of these settings at "
                f"{self.root}; call prepare_data() to generate it (Lightning's Trainer does)"
            )
        super().check_root()

    def prepare_data(self) -> None:
        """Generate the release at ``root`` if needed, then preprocess it."""
        writer = LAYOUTS[self.release_layout]
        release = writer(
            self.root, workers=self.generate_workers, progress=self.progress, **self.release_args
        )
        state = "generated" if release.n_written else "reused"
        print(
            f"{self.release_title} release at {release.root}: {release.n_videos} videos "
            f"({state}; codec {release.fourcc})"
        )
        super().prepare_data()


__all__ = ["GeneratedReleaseDataModule"]

"""Small fake data for the tests: a random-image data module and tiny networks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch import nn

from mtfas.datamodules.base import FASDataModule
from mtfas.datamodules.dataset import ArrayStore


class RandomDataModule(FASDataModule):
    """Random crops with labels: exercises plumbing, not learning.

    Attack crops get a brighter mean so that a few steps can separate them a little.
    """

    pai_names = ("live", "print", "replay")

    def __init__(self, n_subjects: int = 10, frames: int = 2, crop: int = 16, **kwargs) -> None:
        kwargs.setdefault("image_size", crop)
        kwargs.setdefault("batch_size", 4)
        kwargs.setdefault("augment", False)
        super().__init__(**kwargs)
        self.n_subjects, self.frames, self.crop = n_subjects, frames, crop
        rng = np.random.default_rng(0)
        self.rows = []
        arrays = {}
        for subject in range(n_subjects):
            for pai in self.pai_names:
                video = f"{subject}_{pai}"
                base = 60 if pai == "live" else 140
                noise = rng.integers(0, 110, (frames, crop, crop, 3)).astype(np.uint8)
                arrays[video] = noise + base
                self.rows.append(
                    {
                        "video": video,
                        "label": "live" if pai == "live" else "attack",
                        "pai": pai,
                        "subject": subject,
                        "split": ("train", "train", "train", "dev", "test")[subject % 5],
                    }
                )
        self.store = ArrayStore(arrays)

    def video_table(self, split):
        table = pd.DataFrame(self.rows)
        return table[table["split"] == split].drop(columns="split")

    def frame_store(self):
        return self.store


class TinyStudent(nn.Module):
    """A second, tiny student: image -> (B, 1, H/8, W/8) map, smooth (no BN, no ReLU kinks)."""

    def __init__(self, channels: int = 3, batchnorm: bool = False) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, channels, 3, stride=2, padding=1)
        self.bn = nn.BatchNorm2d(channels) if batchnorm else nn.Identity()
        self.conv2 = nn.Conv2d(channels, channels, 3, stride=2, padding=1)
        self.conv3 = nn.Conv2d(channels, 1, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.tanh(self.bn(self.conv1(x)))
        h = torch.tanh(self.conv2(h))
        return torch.sigmoid(self.conv3(h))


class TinyTeacher(nn.Module):
    """A tiny smooth teacher with the same output stride (8)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 2, 3, stride=4, padding=1)
        self.conv2 = nn.Conv2d(2, 1, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.conv2(torch.tanh(self.conv1(x))))


def dataset_images(dm, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Images of a split, normalised to [-1, 1] as a system sees them, and their labels."""
    from mtfas.transforms import normalise

    items = [dm.datasets[split][i] for i in range(len(dm.datasets[split]))]
    images = normalise(torch.stack([it["image"] for it in items]))
    return images, torch.tensor([it["label"] for it in items])


def video_scores(student, dm, split: str):
    """Per-video scores, labels and species of a split, computed independently of the systems.

    The score of a frame is the mean of the student's map; frames are averaged per video
    (``mtfas.metrics.functional.aggregate_by_video``).
    """
    from mtfas.metrics.functional import aggregate_by_video
    from mtfas.transforms import normalise

    dataset = dm.datasets[split]
    items = [dataset[i] for i in range(len(dataset))]
    images = normalise(torch.stack([it["image"] for it in items]))
    with torch.no_grad():
        scores = student(images).flatten(1).mean(1).double()
    tensors = [torch.tensor([it[k] for it in items]) for k in ("label", "pai", "video")]
    return aggregate_by_video(scores, *tensors)

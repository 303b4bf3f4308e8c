"""Cross-dataset protocols: train on source benchmarks, test on an unseen target benchmark.

:class:`CrossDatasetDataModule` composes per-benchmark data modules (any
:class:`~mtfas.datamodules.FASDataModule`, e.g. :class:`~mtfas.datamodules.CASIAFASDDataModule`)
into one, for the protocols of the domain-generalisation literature:

* train on A, test on B: CASIA-FASD -> Replay-Attack and Replay-Attack -> CASIA-FASD;
* leave one domain out over O (OULU-NPU), C (CASIA-FASD), I (Idiap Replay-Attack) and
  M (MSU-MFSD): O&C&I -> M, O&M&I -> C, O&C&M -> I, I&C&M -> O.

Splits of the composite
-----------------------
* ``train``: the ``source_train_splits`` (default ``["train"]``) of every source;
* ``dev``: the dev split of every source. The decision threshold is chosen here, on the
  source domains only, and applied unchanged to the target: the "realistic" HTER/ACER;
* ``test``: the ``target_test_splits`` (default ``["test"]``) of the target.
* ``meta_val``: carved from the composite train split, subject-disjoint, **per source
  domain** (each source gives ``meta_val_fraction`` of its training subjects), so that the
  teacher's meta-objective sees every source domain.

The system's test then reports APCER/BPCER/ACER/HTER at the source-dev threshold and,
labelled ``_idealised``, HTER at the target test set's own EER threshold and AUC, the
numbers most cross-dataset papers print.

Names in the composite
----------------------
Every video id is prefixed with its domain (``"casia-fasd/train_release/1/HR_1"``), every
attack species too (``"casia-fasd/cut_print"``: APCER is reported per species of each
domain), and subjects are renumbered ``domain index * 1_000_000 + subject`` so that ids
of different benchmarks never collide; the ``domain`` and ``domain_subject`` columns keep
the originals. Domain names default to each module's ``benchmark`` (e.g. ``"oulu-npu"``).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from mtfas.datamodules.base import SPLITS, FASDataModule, Split, carve_meta_val
from mtfas.datamodules.dataset import FrameStore
from mtfas.errors import ConfigError, DatasetError, DatasetWarning

#: Subject ids of domain ``k`` are ``k * SUBJECT_STRIDE + subject``.
SUBJECT_STRIDE = 1_000_000
#: Separator between a domain name and a video id or species name.
SEPARATOR = "/"


#: Attributes in which the benchmark modules memoise what they read under their root.
_LISTING_MEMOS = ("_listings", "_split_tables", "_release", "_split")


def _has_listed(member: object) -> bool:
    """Whether ``member`` already memoised something read under its root."""
    for name in _LISTING_MEMOS:
        memo = getattr(member, name, None)
        if isinstance(memo, dict):
            if memo:
                return True
        elif memo is not None:
            return True
    return False


class DomainFrameStore:
    """A frame store over the stores of several domains, addressed by prefixed video ids.

    Args:
        stores: ``{domain: store}``.
    """

    def __init__(self, stores: Mapping[str, FrameStore]) -> None:
        self.stores = dict(stores)

    def frames(self, video: str) -> np.ndarray:
        """Frames of ``"<domain>/<video id>"`` from that domain's store.

        Raises:
            DatasetError: If the domain is unknown.
        """
        domain, _, inner = video.partition(SEPARATOR)
        if domain not in self.stores:
            raise DatasetError(
                f"video {video!r} names no domain of this composite ({sorted(self.stores)})"
            )
        return self.stores[domain].frames(inner)


class CrossDatasetDataModule(FASDataModule):
    """Train on source benchmarks, choose the threshold on their dev data, test on a target.

    Args:
        sources: The source benchmarks' data modules.
        target: The target benchmark's data module (never seen in training or in the
            threshold choice).
        source_train_splits: Splits of each source used for training: ``["train"]``
            (default), or ``["train", "test"]``, the common practice of the
            leave-one-domain-out literature (each dataset's train and test videos, dev
            excluded, form its domain).
        target_test_splits: Splits of the target tested on: ``["test"]`` (default), or
            e.g. ``["train", "test"]`` to test on the whole target domain as that
            literature does.
        domains: Names of the sources then the target (default: each module's
            ``benchmark``, else its class name).
        data_root: Folder that relative member roots are taken from (the shipped configs
            name the copies ``OULU-NPU``, ``CASIA-FASD``, ``Replay-Attack``, ``MSU-MFSD``
            under it); absolute roots are left alone. Every path a member derives from
            its root (video files, Replay-Attack's ``face-locations``, annotation files,
            split lists, protocol files, the default crop cache) is derived when used,
            so it follows the rebased root. A member whose tables were already listed
            before the rebase is an error (its listing would be of the old root).
        **kwargs: :class:`~mtfas.datamodules.FASDataModule` arguments of the composite
            (``image_size``, ``batch_size``, ``meta_val_fraction``, ...); the members'
            own loader settings are not used.

    Raises:
        ConfigError: If there is no source, a split name is unknown, a domain repeats, the
            target is also a source, or a domain name contains ``/``.
    """

    def __init__(
        self,
        sources: Sequence[FASDataModule],
        target: FASDataModule,
        source_train_splits: Sequence[str] = ("train",),
        target_test_splits: Sequence[str] = ("test",),
        domains: Sequence[str] | None = None,
        data_root: str | Path | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        sources = list(sources)
        if not sources:
            raise ConfigError("a cross-dataset protocol needs at least one source data module")
        if any(target is s for s in sources):
            raise ConfigError("the target data module is also a source; use distinct modules")
        for name, splits in (
            ("source_train_splits", source_train_splits),
            ("target_test_splits", target_test_splits),
        ):
            if not splits or not set(splits) <= set(SPLITS):
                raise ConfigError(
                    f"{name} must be a non-empty list of {list(SPLITS)}, got {list(splits)}"
                )
        if "dev" in source_train_splits:
            raise ConfigError(
                "source_train_splits may not contain 'dev': the sources' dev data choose the "
                "decision threshold"
            )
        members = [*sources, target]
        if domains is None:
            domains = [getattr(m, "benchmark", type(m).__name__) for m in members]
        domains = [str(d) for d in domains]
        if len(domains) != len(members):
            raise ConfigError(
                f"domains names {len(members)} modules (sources then target), got {domains}"
            )
        if len(set(domains)) != len(domains) or any(SEPARATOR in d or not d for d in domains):
            raise ConfigError(
                f"domain names must be distinct, non-empty and without '{SEPARATOR}', got "
                f"{domains}; pass domains=[...] to name two copies of one benchmark"
            )
        if data_root is not None:
            for member in members:
                root = getattr(member, "root", None)
                if isinstance(root, Path) and not root.is_absolute():
                    if _has_listed(member):
                        raise ConfigError(
                            f"{type(member).__name__}(root={str(root)!r}) listed its videos "
                            "before data_root was applied; pass fresh member modules"
                        )
                    # A video module: it has a ``root`` (checked above).
                    member.root = Path(data_root).expanduser() / root  # type: ignore[attr-defined]
        self.sources = sources
        self.target = target
        self.source_train_splits = list(source_train_splits)
        self.target_test_splits = list(target_test_splits)
        self.domains = domains
        self.members = dict(zip(domains, members, strict=True))
        self.pai_names = (
            "live",
            *[
                f"{domain}{SEPARATOR}{name}"
                for domain, member in self.members.items()
                for name in member.pai_names[1:]
            ],
        )

    @property
    def source_domains(self) -> list[str]:
        """Names of the source domains."""
        return self.domains[:-1]

    @property
    def target_domain(self) -> str:
        """Name of the target domain."""
        return self.domains[-1]

    # ------------------------------------------------------------ tables
    def _domain_table(self, domain: str, splits: Sequence[str]) -> pd.DataFrame:
        member = self.members[domain]
        index = self.domains.index(domain)
        tables = []
        for split in splits:
            table = member.video_table(cast(Split, split)).copy()  # checked in __init__
            table["domain_split"] = split
            tables.append(table)
        table = pd.concat(tables, ignore_index=True)
        table.insert(0, "domain", domain)
        table["domain_subject"] = table["subject"].astype(np.int64)
        table["subject"] = index * SUBJECT_STRIDE + table["domain_subject"]
        table["video"] = domain + SEPARATOR + table["video"].astype(str)
        live = table["pai"] == member.pai_names[0]
        table["pai"] = np.where(live, "live", domain + SEPARATOR + table["pai"].astype(str))
        return table

    def video_table(self, split: Split) -> pd.DataFrame:
        """The composite's videos of ``split`` (see the module docstring).

        Columns: those the members share (at least ``video``, ``label``, ``pai``,
        ``subject``) plus ``domain``, ``domain_subject`` and ``domain_split``.
        """
        if split == "train":
            parts = [self._domain_table(d, self.source_train_splits) for d in self.source_domains]
        elif split == "dev":
            parts = [self._domain_table(d, ["dev"]) for d in self.source_domains]
        elif split == "test":
            parts = [self._domain_table(self.target_domain, self.target_test_splits)]
        else:
            raise ConfigError(f"split must be one of {list(SPLITS)}, got {split!r}")
        return pd.concat(parts, ignore_index=True, join="inner")

    def carve_meta_val(self, train: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Carve the meta-validation slice per source domain (subject-disjoint in each).

        Source ``k`` uses seed ``seed + k``; a source with a single training subject
        contributes none (a warning names it), and when no source has two, it is an
        error that gives the counts.

        Raises:
            ConfigError: If ``meta_val_fraction > 0`` and no source domain has at least
                two training subjects.
        """
        kept, meta = [], []
        counts = {
            d: int(train.loc[train["domain"] == d, "subject"].nunique())
            for d in self.source_domains
        }
        if self.meta_val_fraction > 0 and max(counts.values(), default=0) < 2:
            raise ConfigError(
                "cannot carve a meta-validation slice: every source domain has fewer than 2 "
                f"training subjects ({counts}); one subject must stay for training and one "
                "go to meta-validation per domain. Use more training subjects (e.g. a "
                "smaller dev_fraction) or meta_val_fraction=0."
            )
        for k, domain in enumerate(self.source_domains):
            part = train[train["domain"] == domain]
            if self.meta_val_fraction > 0 and counts[domain] < 2:
                warnings.warn(
                    f"source domain {domain!r} has {counts[domain]} training subject(s): it "
                    "contributes no meta-validation videos (at least 2 are needed)",
                    DatasetWarning,
                    stacklevel=2,
                )
                kept.append(part)
                continue
            a, b = carve_meta_val(part, self.meta_val_fraction, self.seed + k)
            kept.append(a)
            meta.append(b)
        meta_table = pd.concat(meta, ignore_index=True) if meta else train.iloc[:0]
        return pd.concat(kept, ignore_index=True), meta_table

    # ------------------------------------------------------------ data
    def prepare_data(self) -> None:
        """Prepare every member (generate, preprocess, cache), sources first."""
        for member in self.members.values():
            member.prepare_data()

    def frame_store(self) -> DomainFrameStore:
        """The members' frame stores, addressed by domain."""
        return DomainFrameStore({d: m.frame_store() for d, m in self.members.items()})

    def describe(self) -> str:
        """One line naming the protocol, e.g. ``casia-fasd&replay-attack -> msu-mfsd``."""
        return f"{'&'.join(self.source_domains)} -> {self.target_domain}"

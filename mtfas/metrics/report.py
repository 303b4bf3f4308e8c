"""The :class:`PADReport`: every presentation-attack-detection metric of one score set.

Rates are fractions in ``[0, 1]``; :meth:`PADReport.table` and :meth:`PADReport.format` show
them in percent. Thresholds are scores and are never scaled.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

__all__ = ["PADReport", "apcer_target_key"]


def apcer_target_key(target: float, pooled: bool = False) -> str:
    """Return the :meth:`PADReport.to_dict` key of the BPCER at an APCER target.

    Args:
        target: APCER target as a fraction, e.g. ``0.05``.
        pooled: The key of the pooled-APCER operating point instead of the worst-species
            (ISO) one.

    Returns:
        The key, e.g. ``"bpcer@apcer=5%"`` (worst species) or ``"bpcer@apcer_pooled=5%"``.
    """
    return f"bpcer@apcer{'_pooled' if pooled else ''}={target * 100:g}%"


#: The scalar fields :meth:`PADReport.to_dict` lists after the per-species APCERs, in order.
_SCALARS_AFTER_SPECIES = ("apcer_pooled", "bpcer", "acer", "hter", "eer", "eer_threshold", "auc")


@dataclass(frozen=True)
class PADReport:
    """All PAD metrics of one score set at one decision threshold (ISO/IEC 30107-3).

    A presentation is classified as an attack iff ``score >= threshold``.

    Attributes:
        threshold: Decision threshold the threshold-dependent rates were computed at.
        apcer_per_species: APCER of every attack species present in the data, by name. Species
            listed in ``pai_names`` but absent from the data are omitted here (their APCER is
            undefined) and appear in :attr:`n_attack` with count 0.
        worst_species: Name of the species with the highest APCER (ties: the one listed first
            in ``pai_names``).
        apcer: ISO APCER, the worst species' APCER.
        apcer_pooled: APCER over all attack presentations pooled (not the ISO definition;
            the FAR of the cross-dataset literature).
        bpcer: Fraction of bona fide presentations classified as attacks.
        acer: ``(apcer + bpcer) / 2``.
        hter: ``(apcer_pooled + bpcer) / 2``.
        eer: Equal error rate of pooled APCER and BPCER (see ``functional.eer``).
        eer_threshold: Threshold at which :attr:`eer` is reached.
        auc: Area under the ROC curve: probability that a random attack scores higher than a
            random bona fide presentation, ties counting one half.
        bpcer_at_apcer: Smallest BPCER at which the worst species' APCER (the ISO APCER, as
            :attr:`apcer`) does not exceed each target, keyed by target fraction (e.g.
            ``{0.01: ..., 0.05: ..., 0.1: ...}``).
        bpcer_at_apcer_pooled: The same at the pooled APCER (as :attr:`apcer_pooled`).
        n_bona_fide: Number of bona fide presentations.
        n_attack: Number of attack presentations per species name, every species of
            ``pai_names`` included (0 when absent).
    """

    threshold: float
    apcer_per_species: dict[str, float]
    worst_species: str
    apcer: float
    apcer_pooled: float
    bpcer: float
    acer: float
    hter: float
    eer: float
    eer_threshold: float
    auc: float
    bpcer_at_apcer: dict[float, float]
    bpcer_at_apcer_pooled: dict[float, float]
    n_bona_fide: int
    n_attack: dict[str, int]

    @property
    def n_attack_total(self) -> int:
        """Number of attack presentations over all species."""
        return sum(self.n_attack.values())

    def to_dict(self, prefix: str = "", include_counts: bool = False) -> dict[str, float]:
        """Return the report as a flat ``{key: value}`` dict, e.g. for ``LightningModule.log_dict``.

        Keys are stable and ordered: ``threshold``, ``apcer``, ``apcer/<species>`` (present
        species only), ``apcer_pooled``, ``bpcer``, ``acer``, ``hter``, ``eer``,
        ``eer_threshold``, ``auc``, ``bpcer@apcer=<target>%`` (worst-species APCER, one per
        target), ``bpcer@apcer_pooled=<target>%`` (pooled APCER) and, with
        ``include_counts``, ``count/live`` and ``count/<species>``. Rates are fractions, not
        percent.

        Args:
            prefix: String prepended to every key, e.g. ``"test/"``.
            include_counts: Also include the presentation counts (as floats).

        Returns:
            The flat dict; every value is a finite float.
        """
        values: dict[str, float] = {"threshold": self.threshold, "apcer": self.apcer}
        for name, value in self.apcer_per_species.items():
            values[f"apcer/{name}"] = value
        values.update({name: getattr(self, name) for name in _SCALARS_AFTER_SPECIES})
        for target, value in self.bpcer_at_apcer.items():
            values[apcer_target_key(target)] = value
        for target, value in self.bpcer_at_apcer_pooled.items():
            values[apcer_target_key(target, pooled=True)] = value
        if include_counts:
            values["count/live"] = float(self.n_bona_fide)
            for name, count in self.n_attack.items():
                values[f"count/{name}"] = float(count)
        return {f"{prefix}{key}": float(value) for key, value in values.items()}

    def table(self) -> pd.DataFrame:
        """Return the report as a table with columns ``metric``, ``value`` and ``unit``.

        ``metric`` holds the :meth:`to_dict` keys. Rates and the AUC are in percent (unit
        ``"%"``); the two thresholds are raw scores (unit ``"score"``).

        Returns:
            A :class:`pandas.DataFrame` with one row per metric.
        """
        rows = []
        for key, value in self.to_dict().items():
            is_score = key in ("threshold", "eer_threshold")
            rows.append(
                {
                    "metric": key,
                    "value": value if is_score else 100.0 * value,
                    "unit": "score" if is_score else "%",
                }
            )
        return pd.DataFrame(rows, columns=["metric", "value", "unit"])

    def format(self, title: str = "PAD report") -> str:
        """Return a plain-text table of the report, rates in percent, for a terminal.

        Args:
            title: First line of the table.

        Returns:
            The multi-line table (no trailing newline).
        """
        lines: list[tuple[str, str, str]] = [
            ("threshold", f"{self.threshold:.6g}", ""),
            (f"APCER (worst: {self.worst_species})", _pct(self.apcer), ""),
        ]
        for name, count in self.n_attack.items():
            rate = self.apcer_per_species.get(name)
            shown = _pct(rate) if rate is not None else "-"
            note = f"n={count}" if rate is not None else "n=0 (absent, skipped)"
            lines.append((f"  APCER {name}", shown, note))
        lines += [
            ("APCER pooled", _pct(self.apcer_pooled), f"n={self.n_attack_total}"),
            ("BPCER", _pct(self.bpcer), f"n={self.n_bona_fide}"),
            ("ACER", _pct(self.acer), ""),
            ("HTER", _pct(self.hter), ""),
            ("EER", _pct(self.eer), f"at threshold {self.eer_threshold:.6g}"),
            ("AUC", _pct(self.auc), ""),
        ]
        for target, value in self.bpcer_at_apcer.items():
            lines.append((f"BPCER @ APCER={target * 100:g}%", _pct(value), "worst species"))
        for target, value in self.bpcer_at_apcer_pooled.items():
            lines.append((f"BPCER @ APCER pooled={target * 100:g}%", _pct(value), ""))
        name_width = max(len(name) for name, _, _ in lines)
        value_width = max(len(value) for _, value, _ in lines)
        body = [
            f"{name:<{name_width}}  {value:>{value_width}}  {note}".rstrip()
            for name, value, note in lines
        ]
        rule = "-" * max(len(title), *(len(line) for line in body))
        return "\n".join([title, rule, *body])


def _pct(value: float) -> str:
    """Format a fraction as a percentage with two decimals."""
    return f"{100.0 * value:.2f} %"

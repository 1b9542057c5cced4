"""The declarative CA ceremony: which CAs exist, with what keys, names and limits."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

_FILE = Path(__file__).with_name("ceremony.yaml")
_KEYS = {"sm2", "rsa-2048", "rsa-3072", "rsa-4096"}
_NAME_FIELDS = {"C", "ST", "L", "O", "OU", "CN"}


@dataclass(frozen=True)
class CaSpec:
    id: str
    name: str
    key: str
    subject: dict[str, str]
    validity_days: int
    path_length: int
    parent: str | None = None
    tsa_subject: dict[str, str] | None = None
    crl_shards: int = 1  # CRL partitions; each certificate's CRL DP names its serial's stable shard

    @property
    def algorithm(self) -> str:
        return "sm2" if self.key == "sm2" else "rsa"


@dataclass(frozen=True)
class Ceremony:
    cas: tuple[CaSpec, ...]
    ocsp_validity_days: int
    ocsp_renew_before_days: int
    tsa_validity_days: int
    tsa_policy_oid: str
    tsa_accuracy_ms: int


def _subject(value, where: str) -> dict[str, str]:
    if not isinstance(value, dict) or not value.get("CN") or set(value) - _NAME_FIELDS:
        raise ValueError(f"{where}: subject needs CN and only {sorted(_NAME_FIELDS)}")
    return {k: str(v) for k, v in value.items()}


def ca_spec(raw: dict, known: set[str]) -> CaSpec:
    where = f"CA {raw.get('id')!r}"
    if raw.get("key") not in _KEYS:
        raise ValueError(f"{where}: key must be one of {sorted(_KEYS)}")
    parent = raw.get("parent")
    if parent is not None and parent not in known:
        raise ValueError(f"{where}: parent {parent!r} is not defined before it")
    spec = CaSpec(
        id=str(raw["id"]),
        name=str(raw["name"]),
        key=raw["key"],
        subject=_subject(raw.get("subject"), where),
        validity_days=int(raw["validity_days"]),
        path_length=int(raw.get("path_length", 0)),
        parent=parent,
        tsa_subject=_subject(raw["tsa"], where + " tsa") if raw.get("tsa") else None,
        crl_shards=int(raw.get("crl_shards", 1)),
    )
    if not 1 <= spec.crl_shards <= 1024:
        raise ValueError(f"{where}: crl_shards must be 1..1024")
    if spec.validity_days <= 0 or spec.path_length < 0:
        raise ValueError(f"{where}: validity_days must be positive and path_length non-negative")
    return spec


def load_ceremony(path: Path | None = None, region: str = "") -> Ceremony:
    """The ceremony file with ``{region}`` replaced by this deployment's region code."""
    data = yaml.safe_load((path or _FILE).read_text().replace("{region}", region))
    cas: list[CaSpec] = []
    for raw in data["cas"]:
        cas.append(ca_spec(raw, {c.id for c in cas}))
    if len({c.id for c in cas}) != len(cas):
        raise ValueError("CA ids in the ceremony must be unique")
    return Ceremony(
        cas=tuple(cas),
        ocsp_validity_days=int(data["ocsp_responder"]["validity_days"]),
        ocsp_renew_before_days=int(data["ocsp_responder"]["renew_before_days"]),
        tsa_validity_days=int(data["tsa"]["validity_days"]),
        tsa_policy_oid=str(data["tsa"]["policy_oid"]),
        tsa_accuracy_ms=int(data["tsa"]["accuracy_ms"]),
    )

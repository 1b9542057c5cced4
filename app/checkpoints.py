"""The audit log's sequencer job, signed checkpoints, proofs and their outside witness.

The periodic job (:meth:`AuditLog.run`, every maintenance tick of every worker; one at a time
holds the sequencer lock) sequences the events written since its last run into the Merkle tree
(db.audit) in batches, then signs a checkpoint — tree size, root hash, timestamp
(db.audit.checkpoint_message) — with the audit key from keys/ (an SM2 key labelled
``audit checkpoints`` with a self-signed certificate) and stores it. :meth:`AuditLog.witness`
sends the newest checkpoint to the national hub with an RFC 9162 consistency proof from the one the
hub holds, so a log rewritten or cut off after the hub saw it is detected by :meth:`AuditLog.verify`.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.errors import DomainError, ErrorCode, invalid, not_found
from db import merkle
from db.audit import (
    SEQUENCE_BATCH,
    AuditCheckpoint,
    AuditEvent,
    AuditNode,
    ChainProblem,
    at_text,
    checkpoint_message,
    node_source,
    recompute,
    sequence,
    sequencer_lock,
    tree_size,
)
from db.base import Database, utcnow
from keys.models import KeyRecord
from keys.service import KeyService
from license_registry.hub_client import HubClient
from national_hub.trust_list import hub_certificate
from national_hub.witness import checkpoint_view, parse_checkpoint

log = logging.getLogger("longtrust.audit")
KEY_LABEL = "audit checkpoints"
SYSTEM_ACTOR = "system:audit"
MAX_BATCHES_PER_RUN = 200  # 1 M events per run at most; the next run goes on


def _subject(region: str) -> dict:
    return {
        "country_name": "CN",
        "organization_name": f"LongTrust {region}",
        "common_name": f"LongTrust {region} audit checkpoints",
    }


def _now() -> datetime:
    now = utcnow()
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


class AuditLog:
    def __init__(self, db: Database, keys: KeyService, region: str, hub: HubClient | None = None):
        self.db = db
        self.keys = keys
        self.region = region
        self.hub = hub

    # --- the periodic job ------------------------------------------------------------------------

    def run(self) -> bool:
        """Sequence every waiting event and sign a checkpoint if the tree grew; True if one was
        written. Does nothing while another process holds the sequencer lock."""
        key_ref = self._key_ref()  # first: creating the key is itself an event
        if key_ref is None:
            return False
        for _ in range(MAX_BATCHES_PER_RUN):
            with self.db.unit_of_work() as s:
                # A batch short of full took every event waiting: under load, going on until none
                # waits would sequence a few events at a time without pause.
                if sequence(s) < SEQUENCE_BATCH:
                    break
        return self._checkpoint(key_ref)

    def _key_ref(self) -> str | None:
        with self.db.unit_of_work() as s:
            if not sequencer_lock(s):
                return None
            existing = s.scalars(
                select(KeyRecord.key_ref)
                .where(KeyRecord.label == KEY_LABEL, KeyRecord.status == "active")
                .order_by(KeyRecord.created_at.desc())
                .limit(1)
            ).first()
            return existing or self.keys.create(s, "sm2", KEY_LABEL, SYSTEM_ACTOR).key_ref

    def _certificate(self, s: Session, key_ref: str, signer) -> bytes:
        known = s.scalars(
            select(AuditCheckpoint.certificate_der).where(AuditCheckpoint.key_ref == key_ref).limit(1)
        ).first()
        return known or hub_certificate(signer, _now(), subject=_subject(self.region))

    def _checkpoint(self, key_ref: str) -> bool:
        signer = self.keys.signer(key_ref)
        with self.db.unit_of_work() as s:
            if not sequencer_lock(s):
                return False
            size, last = tree_size(s), _latest(s)
            if size == 0 or (last is not None and last.tree_size >= size):
                return False
            root, now = merkle.root(size, node_source(s)), _now()
            s.add(
                AuditCheckpoint(
                    tree_size=size,
                    root_hash=root,
                    timestamp=now,
                    key_ref=key_ref,
                    algorithm=signer.algorithm,
                    signature=signer.sign(checkpoint_message(size, root, now)),
                    certificate_der=self._certificate(s, key_ref, signer),
                )
            )
        return True

    def run_forever(self, stop: threading.Event, interval_s: float) -> None:
        """The sequencer job: :meth:`run` then :meth:`witness` every ``interval_s`` seconds until
        ``stop`` is set; a failed round is logged and retried on the next one."""
        while not stop.wait(interval_s):
            try:
                self.run()
                self.witness()
            except Exception:  # the job must outlive a bad round (database restart, hub outage)
                log.exception("audit sequencer round failed")

    def witness(self) -> int | None:
        """Send the newest checkpoint to the hub if it has not seen it; returns the tree size the hub
        now holds (None without a hub or a checkpoint). HubUnavailable if the hub cannot be reached
        or refuses it (a refusal means the log no longer extends what the hub saw)."""
        if self.hub is None:
            return None
        with self.db.read() as s:
            mine = _latest(s)
            if mine is None:
                return None
            held = self.hub.audit_checkpoint(self.region)
            first = held["tree_size"] if held else 0
            if first >= mine.tree_size:
                return first
            proof = merkle.consistency_proof(first, mine.tree_size, node_source(s)) if first else []
            view = checkpoint_view(mine)
        return self.hub.send_audit_checkpoint(view, [p.hex() for p in proof])["tree_size"]

    # --- reading ---------------------------------------------------------------------------------

    def checkpoint(self) -> dict:
        """The newest signed checkpoint: ``{tree_size, root_hash_hex, timestamp, algorithm,
        signature_b64, certificate_pem}``; not_found before the first one."""
        with self.db.read() as s:
            row = _latest(s)
            if row is None:
                raise not_found("no audit checkpoint has been signed yet")
            return checkpoint_view(row)

    def leaf(self, index: int) -> dict:
        """``{index, leaf_hash_hex, event}`` of the 0-based leaf ``index``; not_found past the tree."""
        with self.db.read() as s:
            ev = s.scalars(
                select(AuditEvent)
                .join(AuditNode, AuditNode.event_id == AuditEvent.id)
                .where(AuditNode.level == 0, AuditNode.idx == index)
            ).first()
            if ev is None:
                raise not_found(f"the audit log has no leaf {index}")
            leaf = merkle.leaf_hash(ev.canonical).hex()
        return {"index": index, "leaf_hash_hex": leaf, "event": _event(ev)}

    def inclusion(self, index: int, size: int | None) -> dict:
        """RFC 9162 §2.1.3 inclusion proof of leaf ``index`` in the tree of ``size`` leaves (the
        current tree if None): ``{index, tree_size, audit_path_hex}``."""
        with self.db.read() as s:
            size = self._size(s, size)
            if not 0 <= index < size:
                raise invalid(f"index must be 0..{size - 1} for a tree of {size} leaves", ErrorCode.BAD_INDEX)
            path = merkle.inclusion_proof(index, size, node_source(s))
        return {"index": index, "tree_size": size, "audit_path_hex": [p.hex() for p in path]}

    def consistency(self, first: int, second: int | None) -> dict:
        """RFC 9162 §2.1.4 consistency proof between the trees of ``first`` and ``second`` leaves
        (the current tree if None): ``{first, second, proof_hex}``."""
        with self.db.read() as s:
            second = self._size(s, second)
            if not 0 < first <= second:
                raise invalid(f"first must be 1..{second}", ErrorCode.BAD_TREE_SIZE)
            proof = merkle.consistency_proof(first, second, node_source(s))
        return {"first": first, "second": second, "proof_hex": [p.hex() for p in proof]}

    @staticmethod
    def _size(s: Session, size: int | None) -> int:
        current = tree_size(s)
        if size is None:
            size = current
        if not 1 <= size <= current:
            raise invalid(f"tree_size must be 1..{current} (the sequenced log)", ErrorCode.BAD_TREE_SIZE)
        return size

    # --- verification ----------------------------------------------------------------------------

    def verify(self) -> tuple[int, int, list[ChainProblem]]:
        """Recompute the tree from the events and check every stored checkpoint (signature and
        root) and the hub's copy when a hub is configured. Returns (events checked, events not yet
        sequenced, problems); raises HubUnavailable if the hub cannot be asked."""
        held = self.hub.audit_checkpoint(self.region) if self.hub is not None else None
        with self.db.read() as s:
            checkpoints = [checkpoint_view(c) for c in s.scalars(select(AuditCheckpoint))]
            sizes = {c["tree_size"] for c in checkpoints} | ({held["tree_size"]} if held else set())
            count, problems, roots = recompute(s, sizes)
            pending = s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.seq.is_(None)))
        for c in checkpoints:
            problems += _checkpoint_problems(c, roots, "its signed checkpoint")
        if held:
            problems += _checkpoint_problems(held, roots, "the hub's witnessed checkpoint")
        return count, pending, problems


def _latest(s: Session) -> AuditCheckpoint | None:
    return s.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.tree_size.desc()).limit(1)).first()


def _event(ev: AuditEvent) -> dict:
    return {
        "seq": ev.seq,
        "at": at_text(ev.at),
        "actor": ev.actor,
        "action": ev.action,
        "subject": ev.subject,
        "details": json.loads(ev.details),
        "canonical_b64": base64.b64encode(ev.canonical).decode(),
    }


def _checkpoint_problems(c: dict, roots: dict[int, bytes], what: str) -> list[ChainProblem]:
    size = c["tree_size"]
    try:
        parse_checkpoint(c)
    except DomainError:
        return [ChainProblem(size, f"{what} does not verify (altered or forged)")]
    if size not in roots:
        return [ChainProblem(size, f"{what} covers it but it is gone (log cut off)")]
    if roots[size].hex() != c["root_hash_hex"]:
        return [ChainProblem(size, f"the log differs from the tree {what} covers")]
    return []

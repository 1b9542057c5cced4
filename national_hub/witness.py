"""The hub as outside witness of each region's audit log (RFC 9162 signed tree heads).

A region sends its newest signed checkpoint with a consistency proof from the last checkpoint the
hub holds for it. The hub keeps it only if its signature verifies with the same certificate as the
region's earlier checkpoints (the first one is pinned) and the proof shows the new tree extends the
old one (RFC 9162 §2.1.4.2); a region can then no longer rewrite or cut off what the hub has seen.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.clock import Clock
from core.errors import ErrorCode, conflict, forbidden, invalid, not_found
from db import merkle
from db.audit import at_text, checkpoint_message, record
from db.base import Database
from national_hub import repo
from national_hub.models import HubAuditCheckpoint, HubRegion
from national_hub.trust_list import certificate_der, signature_valid, to_pem


def checkpoint_view(row) -> dict:
    """``{tree_size, root_hash_hex, timestamp, algorithm, signature_b64, certificate_pem}`` of a
    stored checkpoint (the region's or the hub's copy)."""
    return {
        "tree_size": row.tree_size,
        "root_hash_hex": row.root_hash.hex(),
        "timestamp": at_text(row.timestamp),
        "algorithm": row.algorithm,
        "signature_b64": base64.b64encode(row.signature).decode(),
        "certificate_pem": to_pem(row.certificate_der),
    }


def parse_checkpoint(body: dict) -> HubAuditCheckpoint:
    """A checkpoint in the form of :func:`checkpoint_view`, its signature checked; DomainError
    (invalid) if malformed or if the signature does not verify."""
    try:
        row = HubAuditCheckpoint(
            tree_size=int(body["tree_size"]),
            root_hash=bytes.fromhex(body["root_hash_hex"]),
            timestamp=datetime.fromisoformat(body["timestamp"]),
            algorithm=str(body["algorithm"]),
            signature=base64.b64decode(body["signature_b64"], validate=True),
            certificate_der=certificate_der(body["certificate_pem"]),
        )
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise invalid(f"malformed audit checkpoint: {exc}", ErrorCode.BAD_CHECKPOINT) from None
    if (
        row.timestamp.tzinfo is None
        or at_text(row.timestamp) != body["timestamp"]
        or len(row.root_hash) != 32
    ):
        raise invalid(
            "the checkpoint's timestamp or root hash is not in canonical form", ErrorCode.BAD_CHECKPOINT
        )
    if not signature_valid(
        row.certificate_der,
        row.algorithm,
        checkpoint_message(row.tree_size, row.root_hash, row.timestamp),
        row.signature,
    ):
        raise invalid(
            "the checkpoint's signature does not verify with its certificate", ErrorCode.BAD_CHECKPOINT
        )
    return row


def latest(session: Session, region: str) -> HubAuditCheckpoint | None:
    return session.scalars(
        select(HubAuditCheckpoint)
        .where(HubAuditCheckpoint.region == region)
        .order_by(HubAuditCheckpoint.tree_size.desc())
        .limit(1)
    ).first()


def _check_extends(old: HubAuditCheckpoint, new: HubAuditCheckpoint, proof: list[bytes]) -> None:
    if new.certificate_der != old.certificate_der:
        raise forbidden("the checkpoint is signed with another certificate than the region's earlier ones")
    if new.tree_size < old.tree_size:
        raise conflict(
            f"the hub already witnessed {old.tree_size} events of this log", ErrorCode.CHECKPOINT_OLDER
        )
    if not merkle.verify_consistency(old.tree_size, new.tree_size, old.root_hash, new.root_hash, proof):
        raise conflict(
            f"the checkpoint is not consistent with the witnessed one of {old.tree_size} events "
            "(the log was rewritten, or the proof does not start there)",
            ErrorCode.CHECKPOINT_INCONSISTENT,
        )


class AuditWitness:
    def __init__(self, db: Database, clock: Clock):
        self.db = db
        self.clock = clock

    def receive(self, region: str, body: dict, proof_hex: list[str]) -> dict:
        """Keep a region's checkpoint if it extends the latest one held (``proof_hex``: the RFC 9162
        consistency proof from that one's size). Returns the checkpoint view; DomainError invalid,
        forbidden or conflict otherwise."""
        new = parse_checkpoint(body)
        try:
            proof = [bytes.fromhex(p) for p in proof_hex]
        except ValueError:
            raise invalid("the consistency proof must be hex hashes", ErrorCode.BAD_CHECKPOINT) from None
        with self.db.unit_of_work() as s:
            repo.lock_region(s, region)
            if s.get(HubRegion, region) is None:
                raise forbidden(f"region {region} is not registered at the hub")
            old = latest(s, region)
            if old is not None:
                _check_extends(old, new, proof)
                if old.tree_size == new.tree_size:
                    return checkpoint_view(old)
            new.region, new.received_at = region, self.clock.now()
            s.add(new)
            s.flush()
            record(
                s,
                f"region:{region}",
                "hub.audit-checkpoint",
                f"region:{region}",
                tree_size=new.tree_size,
                root_hash=new.root_hash.hex(),
            )
            return checkpoint_view(new)

    def latest(self, region: str) -> dict:
        """The newest checkpoint witnessed for ``region``; DomainError not_found if none."""
        with self.db.read() as s:
            row = latest(s, region)
            if row is None:
                raise not_found(f"the hub holds no audit checkpoint of region {region}")
            return checkpoint_view(row)

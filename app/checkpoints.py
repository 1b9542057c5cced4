"""Signed audit checkpoints kept outside the database.

The hash chain shows any change, removal or reordering of events *before* the newest one; it cannot
show that the newest events were cut off. Each checkpoint signs the chain head (sequence and hash)
with a key from keys/ and appends it to a file in the data folder, so `longtrust audit verify` can
tell that events the database no longer has once existed.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

from sqlalchemy import select

from db.audit import AuditEvent, ChainProblem
from db.base import Database
from keys import sm2
from keys.service import KeyService

FILE_NAME = "audit-checkpoints.jsonl"
KEY_LABEL = "audit checkpoints"


def _message(seq: int, digest: str) -> bytes:
    return f"longtrust-audit-checkpoint:{seq}:{digest}".encode()


def _head(db: Database) -> tuple[int, str] | None:
    with db.read() as s:
        row = s.execute(
            select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
        ).first()
    return (row[0], row[1]) if row else None


def _checkpoint_key(keys: KeyService, actor: str) -> str:
    for record in keys.list():
        if record.label == KEY_LABEL and record.status == "active":
            return record.key_ref
    with keys.db.unit_of_work() as s:
        return keys.create(s, "sm2", KEY_LABEL, actor).key_ref


def write_checkpoint(db: Database, keys: KeyService, data_dir: Path, actor: str = "system:audit") -> bool:
    """Append a signed checkpoint of the chain head if it moved since the last one; True if written."""
    signer = keys.signer(_checkpoint_key(keys, actor))  # first: creating the key is itself an event
    head = _head(db)
    path = data_dir / FILE_NAME
    if head is None or (read_checkpoints(path) or [{}])[-1].get("seq") == head[0]:
        return False
    entry = {
        "seq": head[0],
        "hash": head[1],
        "public_key": base64.b64encode(signer.public_key_info().dump()).decode(),
        "signature": base64.b64encode(signer.sign(_message(*head))).decode(),
    }
    with path.open("a") as f:
        f.write(json.dumps(entry) + "\n")
    return True


def read_checkpoints(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def checkpoint_problems(db: Database, data_dir: Path) -> list[ChainProblem]:
    """Checkpoints whose signature fails, or whose event the database no longer holds unchanged."""
    from asn1crypto import keys as asn1_keys

    problems = []
    checkpoints = read_checkpoints(data_dir / FILE_NAME)
    hashes = {}
    if checkpoints:
        with db.read() as s:
            wanted = [c["seq"] for c in checkpoints]
            hashes = dict(
                s.execute(select(AuditEvent.seq, AuditEvent.hash).where(AuditEvent.seq.in_(wanted))).all()
            )
    for c in checkpoints:
        point = asn1_keys.PublicKeyInfo.load(base64.b64decode(c["public_key"]))["public_key"].native
        if not sm2.verify(point, _message(c["seq"], c["hash"]), base64.b64decode(c["signature"])):
            problems.append(ChainProblem(c["seq"], "its signed checkpoint does not verify"))
        elif c["seq"] not in hashes:
            problems.append(
                ChainProblem(c["seq"], "a signed checkpoint covers it but it is gone (log cut off)")
            )
        elif hashes[c["seq"]] != c["hash"]:
            problems.append(ChainProblem(c["seq"], "differs from the event its signed checkpoint covers"))
    return problems

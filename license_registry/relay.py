"""Delivers the outbox to the national hub: at least once, recognised as duplicates by key, never lost.

One round: claim due events in a short transaction (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so any
number of workers can relay) by pushing their next attempt past a lease; post them as one batch;
then, in a second short transaction, mark those the hub accepted or already had as delivered and give
the rest an exponential back-off with jitter. A worker that dies mid-round leaves its events to be
claimed again when the lease ends; the hub answers "duplicate" for what it already has.
"""

from __future__ import annotations

import json
import logging
import random
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
from sqlalchemy import select, update

from core.clock import Clock, SystemClock
from db.base import Database
from license_registry.hub_client import MAX_BATCH, HubClient, HubRefused, HubUnavailable
from license_registry.models import OutboxEvent

log = logging.getLogger("longtrust.relay")
DELIVERED = ("accepted", "duplicate")


def backoff_s(attempts: int, base_s: float, cap_s: float, rng: random.Random) -> float:
    """Exponential back-off after ``attempts`` failures, capped, with jitter in [half, full] of the step."""
    step = min(cap_s, base_s * 2 ** max(attempts - 1, 0))
    return step / 2 + rng.uniform(0, step / 2)


def _keys(events: list[tuple[int, dict]]) -> dict[int, str]:
    return {event_id: event["idempotency_key"] for event_id, event in events}


REFUSED = "refused by the hub: the license's issuer code belongs to another region"


class HubRelay:
    def __init__(
        self,
        db: Database,
        hub_url: str,
        hub_token: str | None,
        region: str,
        client: httpx.Client | None = None,
        batch_size: int = 500,
        *,
        cert: tuple[str, str] | None = None,
        clock: Clock | None = None,
        base_delay_s: float = 2.0,
        max_delay_s: float = 600.0,
        lease_s: float = 120.0,
        rng: random.Random | None = None,
    ):
        if not 1 <= batch_size <= MAX_BATCH:
            raise ValueError(f"batch_size is 1 to {MAX_BATCH}")
        self.db = db
        self.hub = HubClient(hub_url, hub_token, client, cert=cert)
        self.region = region
        self.batch_size = batch_size
        self.clock = clock or SystemClock()
        self.base_delay_s, self.max_delay_s = base_delay_s, max_delay_s
        self.lease = timedelta(seconds=lease_s)
        self.rng = rng or random.Random()

    def deliver_once(self) -> int:
        """One batch; returns how many events are now delivered."""
        events = self._claim()
        return self._settle(*self._post(events)) if events else 0

    def drain(self) -> int:
        """Every due event once, in pipelined batches: while one batch is with the hub, the next is
        claimed and the one before is settled (a batch the hub did not take backs off, so it is not
        claimed again in the same drain). Returns how many events are now delivered."""
        total = 0
        with ThreadPoolExecutor(1, thread_name_prefix="hub-post") as poster:
            events = self._claim()
            posting = poster.submit(self._post, events) if events else None
            while posting is not None:
                following = self._claim() if len(events) >= self.batch_size else []
                keys, results, failure = posting.result()
                events = following
                posting = poster.submit(self._post, events) if events else None
                total += self._settle(keys, results, failure)
        return total

    def run_forever(self, stop_event: threading.Event, interval_s: float = 5.0) -> None:
        """Relay until ``stop_event`` is set, draining the backlog every ``interval_s``."""
        while not stop_event.is_set():
            try:
                self.drain()
            except Exception:  # a relay must outlive a bad round (database restart and the like)
                log.exception("hub relay round failed")
            stop_event.wait(interval_s)

    def _post(self, events: list[tuple[int, dict]]) -> tuple[dict[int, str], dict, str]:
        """(event id → idempotency key, the hub's results by idempotency key, what to record where it
        gave none)."""
        try:
            results = self.hub.report(self.region, [e for _, e in events])
        except HubRefused:
            if len(events) > 1:
                return self._post_one_by_one(events)
            return _keys(events), {}, REFUSED
        except HubUnavailable as exc:
            log.warning("hub delivery failed for %d events: %s", len(events), exc)
            return _keys(events), {}, str(exc)
        return _keys(events), results, "the hub did not answer for this event"

    def _post_one_by_one(self, events: list[tuple[int, dict]]) -> tuple[dict[int, str], dict, str]:
        """After a batch was refused for another region's issuer code: each event on its own, so the
        refused ones back off and the rest are delivered."""
        results, failure = {}, REFUSED
        for _id, event in events:
            try:
                results.update(self.hub.report(self.region, [event]))
            except HubRefused:
                continue
            except HubUnavailable as exc:
                failure = str(exc)
                break
        return _keys(events), results, failure

    def close(self) -> None:
        self.hub.close()

    def _claim(self) -> list[tuple[int, dict]]:
        """Lease the next due events with one statement (the oldest first; ``FOR UPDATE SKIP
        LOCKED`` on PostgreSQL, so relays in other workers take other events)."""
        now = self.clock.now()
        due = (
            select(OutboxEvent.id)
            .where(OutboxEvent.delivered_at.is_(None), OutboxEvent.next_attempt_at <= now)
            .order_by(OutboxEvent.id)
            .limit(self.batch_size)
            .with_for_update(skip_locked=True)
        )
        with self.db.unit_of_work() as s:
            rows = s.execute(
                update(OutboxEvent)
                .execution_options(synchronize_session=False)  # no ORM objects are loaded here
                .where(OutboxEvent.id.in_(due.scalar_subquery()))
                .values(attempts=OutboxEvent.attempts + 1, next_attempt_at=now + self.lease)
                .returning(
                    OutboxEvent.id,
                    OutboxEvent.idempotency_key,
                    OutboxEvent.kind,
                    OutboxEvent.created_at,
                    OutboxEvent.payload_json,
                )
            ).all()
        return [
            (
                r.id,
                {
                    "idempotency_key": r.idempotency_key,
                    "kind": r.kind,
                    "at": r.created_at.isoformat(),
                    "payload": json.loads(r.payload_json),
                },
            )
            for r in sorted(rows, key=lambda r: r.id)  # RETURNING keeps no order
        ]

    def _settle(self, keys: dict[int, str], results: dict[str, tuple[str, str]], failure: str) -> int:
        """Mark what the hub took as delivered (one statement); give each other event its back-off.
        ``keys``: event id → idempotency key of the batch."""
        now = self.clock.now()
        left = {i: key for i, key in keys.items() if results.get(key, ("",))[0] not in DELIVERED}
        taken = [i for i in keys if i not in left]
        with self.db.unit_of_work() as s:
            delivered = s.execute(
                update(OutboxEvent)
                .execution_options(synchronize_session=False)  # no ORM objects are loaded here
                .where(OutboxEvent.id.in_(taken), OutboxEvent.delivered_at.is_(None))
                .values(delivered_at=now, last_error=None)
            ).rowcount
            if left:
                self._back_off(s, left, results, failure, now)
        return delivered

    def _back_off(self, s, keys: dict[int, str], results: dict, failure: str, now) -> None:
        """Each event of ``keys`` (id → idempotency key) not delivered meanwhile waits its back-off."""
        pending = s.execute(
            select(OutboxEvent.id, OutboxEvent.attempts).where(
                OutboxEvent.id.in_(list(keys)), OutboxEvent.delivered_at.is_(None)
            )
        ).all()
        for event_id, attempts in pending:
            result, detail = results.get(keys[event_id], ("", failure))
            delay = backoff_s(attempts, self.base_delay_s, self.max_delay_s, self.rng)
            s.execute(
                update(OutboxEvent)
                .where(OutboxEvent.id == event_id)
                .values(
                    last_error=f"{result}: {detail}" if result else detail,
                    next_attempt_at=now + timedelta(seconds=delay),
                )
            )

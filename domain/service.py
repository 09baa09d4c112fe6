"""The carbon-account platform's write side: every rule that can refuse, and the events it writes.

The events and the streams they are appended to are in :mod:`domain.events`.

Rules that depend on a stream's state (enrolment, key validity, sequence numbers, balances) are
decided against that state and written with the sequence number they were decided at; another
writer in between makes the store refuse the write, and the decision is taken again.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson
from cryptography import x509

from domain import events
from domain.claims import ClaimKey, meter_slot_keys, transaction_key
from domain.credit_code import validate_credit_code
from domain.errors import (
    AlreadyClaimed,
    AlreadyExists,
    Conflict,
    DomainError,
    EvidenceError,
    NotFound,
    Overdrawn,
    RequestError,
    UnsupportedAlgorithm,
)
from domain.events import (
    AccountOpened,
    ClaimKeyHeld,
    ClaimRecorded,
    EconomicReported,
    MeterEnrolled,
    MeterKeyRevoked,
    MeterKeyRotated,
    MethodologyAdopted,
    PointsAwarded,
    PointsRedeemed,
    ReporterEnrolled,
    account_stream,
    meter_stream,
)
from domain.jws import parse_jws_document, verify_jws_signature
from domain.meters import (
    BEGINNING_OF_TIME,
    CARRIER_UNITS,
    CARRIERS,
    MeterState,
    check_certificate_chain,
    check_serial,
    key_id_of,
    load_public_key,
    parse_time,
)
from domain.methodology import DEFAULT_ADOPTION, FactorTable, Methodology, load_methodologies
from domain.readings import IncomingReading, parse_reading
from domain.refusals import Refusal
from ledger.entry import STREAM_ID, b64, decode_entry
from ledger.ledger import Ledger
from ledger.store import NewEvent, StoredEntry, StreamConflict

ACCOUNT_KINDS = ("personal", "enterprise", "region", "project")
RETRIES = 5
PARSE_CHUNK = 64
PERIOD_FORMATS = ("%Y-%m", "%Y")
# An entry is at most 65,535 bytes (C2SP entry bundles); leave room for the body around evidence.
MAX_EVIDENCE_BYTES = 60_000
GRAMS_PER = {"g": Decimal(1), "kg": Decimal(1000), "t": Decimal(1_000_000)}


def utc_now() -> datetime:
    return datetime.now(UTC)


def decimal_field(value: object, what: str, *, positive: bool = False) -> Decimal:
    """An exact decimal from a string or an integer; floats are refused (they are not exact)."""
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise RequestError(f'{what} must be a decimal string such as "12.5", not {value!r}')
    try:
        number = Decimal(value)
    except InvalidOperation as exc:
        raise RequestError(f"{what} {value!r} is not a decimal number") from exc
    if not number.is_finite() or number < 0 or (positive and number == 0):
        raise RequestError(f"{what} must be a {'positive' if positive else 'non-negative'} number")
    return number


def text_field(value: object, what: str, *, limit: int = 200) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise RequestError(f"{what} must be a non-empty string of at most {limit} characters")
    return value


def check_account_id(account_id: object) -> str:
    account_id = text_field(account_id, "account id", limit=120)
    if not STREAM_ID.match(account_stream(account_id)) or "/" in account_id:
        raise RequestError(
            f"account id {account_id!r} is not valid: letters, digits and ._:@+- only"
        )
    return account_id


@dataclass
class AccountState:
    account_id: str
    seq: int = 0
    kind: str | None = None
    region: str | None = None
    industry: str | None = None
    points: int = 0

    def apply(self, event: events.Event, seq: int) -> None:
        self.seq = seq
        if isinstance(event, AccountOpened):
            self.kind = event.kind
            self.region = event.region
            self.industry = event.industry
        elif isinstance(event, PointsAwarded):
            self.points += event.points
        elif isinstance(event, PointsRedeemed):
            self.points -= event.points


@dataclass(frozen=True)
class IngestResult:
    """The answer for one submitted reading."""

    position: int
    accepted: bool
    meter: str | None = None
    reason: Refusal | None = None
    detail: str | None = None
    stream: str | None = None
    seq: int | None = None
    leaf_hash: str | None = None
    gap: int | None = None
    time_status: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "position": self.position,
            "status": "accepted" if self.accepted else "refused",
        }
        for name in (
            "meter",
            "reason",
            "detail",
            "stream",
            "seq",
            "leaf_hash",
            "gap",
            "time_status",
        ):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out


@dataclass
class _Pending:
    position: int
    reading: IncomingReading | None = None
    refusal: tuple[Refusal, str] | None = None  # from parsing
    key_id: str | None = None  # the key that verified the signature
    verdict: tuple[Refusal, str] | None = None  # from verification


class CarbonAccounts:
    """The platform's write side over an open ledger.

    ``federation_secret`` blinds claim keys (the same secret on every federated platform makes the
    same activity give the same key); ``maker_roots`` are the certificates meter makers' chains
    must end at; ``methodologies`` defaults to the data files shipped in ``domain/data``.
    """

    def __init__(
        self,
        ledger: Ledger,
        *,
        federation_secret: bytes,
        maker_roots: Sequence[x509.Certificate] = (),
        methodologies: dict[str, Methodology] | None = None,
        clock: Callable[[], datetime] = utc_now,
        verify_threads: int = 2,
    ) -> None:
        if len(federation_secret) < 16:
            raise RequestError("the federation secret must be at least 16 bytes")
        self.ledger = ledger
        self.store = ledger.store
        self.secret = federation_secret
        self.maker_roots = list(maker_roots)
        self.methodologies = methodologies if methodologies is not None else load_methodologies()
        self.factors = FactorTable.adopting(
            [key for key in DEFAULT_ADOPTION if key in self.methodologies], self.methodologies
        )
        self.clock = clock
        self._pool = ThreadPoolExecutor(max_workers=verify_threads, thread_name_prefix="verify")
        self._meters: dict[str, MeterState] = {}
        self._accounts: dict[str, AccountState] = {}
        self._lock = threading.Lock()
        self._catch_lock = threading.RLock()
        self.refusals: Counter[Refusal] = Counter()
        self.accepted_readings = 0

    def close(self) -> None:
        self._pool.shutdown(wait=False)

    # -- state --------------------------------------------------------------------------------

    def _catch_up(self, state: Any, stream: str) -> Any:
        # One lock for all catch-ups: two threads applying the same entries twice would count
        # points twice.
        with self._catch_lock:
            for entry in self.store.read_stream(stream, after=state.seq):
                if entry.seq == state.seq + 1:
                    event = events.decode(entry.decode())
                    if event is not None:
                        state.apply(event, entry.seq)
                    else:
                        state.seq = entry.seq
        return state

    def _applied(self, writes: Sequence[NewEvent], entries: Sequence[StoredEntry]) -> None:
        """Bring cached meter states forward by what this process just wrote."""
        with self._catch_lock:
            for event, entry in zip(writes, entries, strict=True):
                state = self._meters.get(entry.stream)
                if state is not None and state.seq == entry.seq - 1:
                    state.apply(events.decode_body(event.type, event.body), entry.seq)

    def meter(self, serial: str, *, refresh: bool = True) -> MeterState:
        """The meter's state, from the cache, caught up with its stream when ``refresh``."""
        stream = meter_stream(serial)
        with self._lock:
            state = self._meters.get(stream)
            if state is None:
                state = self._meters[stream] = MeterState(serial=serial, stream=stream)
                refresh = True
        if refresh:
            self._catch_up(state, stream)
        return state

    def account(self, account_id: str) -> AccountState:
        """The account's state caught up with its stream; NotFound when it was never opened."""
        stream = account_stream(check_account_id(account_id))
        with self._lock:
            state = self._accounts.get(account_id) or AccountState(account_id)
        self._catch_up(state, stream)
        if state.kind is None:
            raise NotFound(f"account {account_id!r} does not exist")
        with self._lock:  # only accounts that exist are cached
            state = self._accounts.setdefault(account_id, state)
        return state

    def _forget(self, streams: Sequence[str]) -> None:
        with self._lock:
            for stream in streams:
                if events.stream_kind(stream) == events.METER:
                    state = self._meters.pop(stream, None)
                    if state is not None:
                        self._meters[stream] = MeterState(serial=state.serial, stream=stream)

    def _append(self, writes: list[NewEvent]) -> list[StoredEntry]:
        return self.store.append(writes)

    def _receipt(self, entry: StoredEntry) -> dict[str, Any]:
        return {"stream": entry.stream, "seq": entry.seq, "leaf_hash": b64(entry.leaf_hash)}

    # -- accounts ------------------------------------------------------------------------------

    def open_account(
        self,
        *,
        kind: str,
        account_id: str | None = None,
        region: str | None = None,
        credit_code: str | None = None,
        pseudonym: str | None = None,
        name: str | None = None,
        industry: str | None = None,
    ) -> dict[str, Any]:
        """Open an account. An enterprise needs a valid unified social credit code (its default
        id); a resident carries a pseudonym only, never a name or phone number."""
        if kind not in ACCOUNT_KINDS:
            raise RequestError(f"account kind must be one of {', '.join(ACCOUNT_KINDS)}")
        opened = AccountOpened(kind=kind)
        if kind == "enterprise":
            if credit_code is None:
                raise RequestError("an enterprise account needs its unified social credit code")
            opened.credit_code = validate_credit_code(credit_code)
            account_id = account_id or opened.credit_code
            if industry is not None:
                opened.industry = text_field(industry, "industry", limit=60)
        elif credit_code is not None:
            raise RequestError("only enterprise accounts carry a credit code")
        if kind == "personal":
            if name is not None:
                raise RequestError("personal accounts carry a pseudonym only, never a name")
            pseudonym = text_field(pseudonym, "pseudonym", limit=64)
            opened.pseudonym = pseudonym
            account_id = account_id or pseudonym
        elif name is not None:
            opened.name = text_field(name, "name")
        if account_id is None:
            raise RequestError("account id is required")
        account_id = check_account_id(account_id)
        if region is not None:
            region = check_account_id(region)
            region_state = self.account(region)
            if region_state.kind != "region":
                raise RequestError(f"account {region!r} is not a region")
            opened.region = region
        try:
            (entry,) = self._append([opened.on(account_stream(account_id), expected_seq=0)])
        except StreamConflict as exc:
            raise AlreadyExists(f"account {account_id!r} already exists") from exc
        return {"account": account_id, **self._receipt(entry)}

    # -- meters --------------------------------------------------------------------------------

    def enroll_meter(
        self,
        *,
        serial: str,
        account: str,
        public_key: str,
        carrier: str,
        valid_from: str | datetime | None = None,
        certificate_chain: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """Enroll a meter to an account with its public key (and, where the maker provides one, a
        certificate chain checked against the configured maker roots)."""
        serial = check_serial(serial)
        if carrier not in CARRIERS:
            raise RequestError(f"carrier must be one of {', '.join(CARRIERS)}")
        self.account(account)
        algorithm, spki, _ = load_public_key(public_key)
        start = BEGINNING_OF_TIME if valid_from is None else parse_time(valid_from, "valid_from")
        if certificate_chain is not None:
            check_certificate_chain(list(certificate_chain), spki, self.maker_roots, self.clock())
        enrolled = MeterEnrolled(
            serial=serial,
            account=account,
            carrier=carrier,
            algorithm=algorithm,
            public_key=base64.b64encode(spki).decode(),
            key_id=key_id_of(spki),
            valid_from=start.isoformat(),
            certified=certificate_chain is not None,
        )
        try:
            (entry,) = self._append([enrolled.on(meter_stream(serial), expected_seq=0)])
        except StreamConflict as exc:
            raise AlreadyExists(f"meter {serial!r} is already enrolled") from exc
        return {"meter": serial, "key_id": enrolled.key_id, **self._receipt(entry)}

    def _meter_change(self, serial: str, build: Callable[[MeterState], NewEvent]) -> dict[str, Any]:
        for _ in range(RETRIES):
            state = self.meter(serial)
            if not state.enrolled:
                raise NotFound(f"meter {serial!r} is not enrolled")
            event = build(state)
            try:
                (entry,) = self._append([event])
            except StreamConflict:
                self._forget([state.stream])
                continue
            self._applied([event], [entry])
            return {"meter": serial, **self._receipt(entry)}
        raise Conflict(f"meter {serial!r} kept changing; try again")

    def rotate_key(
        self, serial: str, *, public_key: str, effective: str | datetime
    ) -> dict[str, Any]:
        """Rotate the meter to a new key from ``effective``: the current key stops being valid
        then, and the new one starts."""
        algorithm, spki, _ = load_public_key(public_key)
        when = parse_time(effective, "effective")

        def build(state: MeterState) -> NewEvent:
            if state.key(key_id_of(spki)) is not None:
                raise AlreadyExists("the meter already has this key")
            return MeterKeyRotated(
                algorithm=algorithm,
                public_key=base64.b64encode(spki).decode(),
                key_id=key_id_of(spki),
                effective=when.isoformat(),
            ).on(state.stream, expected_seq=state.seq)

        return self._meter_change(serial, build)

    def revoke_key(self, serial: str, *, key_id: str, effective: str | datetime) -> dict[str, Any]:
        """Revoke one of the meter's keys from ``effective``: readings it signed for times from
        then on are refused."""
        when = parse_time(effective, "effective")

        def build(state: MeterState) -> NewEvent:
            if state.key(key_id) is None:
                raise NotFound(f"meter {serial!r} has no key {key_id!r}")
            return MeterKeyRevoked(key_id=key_id, effective=when.isoformat()).on(
                state.stream, expected_seq=state.seq
            )

        return self._meter_change(serial, build)

    # -- readings ------------------------------------------------------------------------------

    def ingest_readings(self, items: Sequence[object]) -> list[IngestResult]:
        """Verify and record a batch of signed readings; answer for each one.

        A refused item never blocks the others and nothing refused is written. Accepted readings
        are written in one transaction; if another writer changed one of the meters meanwhile,
        the batch's meters are read again and the rules applied again.
        """
        for _ in range(RETRIES):
            pending = self._check(items)
            results, writes, streams = self._apply_rules(pending)
            if not writes:
                return self._count(results)
            try:
                entries = self._append(writes)
            except StreamConflict as exc:
                self._forget(exc.streams or streams)
                continue
            self._applied(writes, entries)
            by_position = dict(
                zip([r.position for r in results if r.accepted], entries, strict=True)
            )
            final = []
            for result in results:
                entry = by_position.get(result.position)
                if entry is None:
                    final.append(result)
                    continue
                final.append(
                    IngestResult(
                        position=result.position,
                        accepted=True,
                        meter=result.meter,
                        stream=entry.stream,
                        seq=entry.seq,
                        leaf_hash=b64(entry.leaf_hash),
                        gap=result.gap,
                        time_status=result.time_status,
                    )
                )
            return self._count(final)
        raise Conflict("the meters of this batch kept changing; submit it again")

    def _count(self, results: list[IngestResult]) -> list[IngestResult]:
        with self._lock:
            for result in results:
                if result.accepted:
                    self.accepted_readings += 1
                else:
                    assert result.reason is not None
                    self.refusals[result.reason] += 1
        return results

    def _check(self, items: Sequence[object]) -> list[_Pending]:
        """Parse every item and verify its signature against its meter's keys.

        Each worker thread parses a chunk (Python, holding the GIL) and verifies it (libsodium or
        OpenSSL, GIL released): one worker's verification overlaps the other's parsing.
        """
        pending = [_Pending(position=i) for i in range(len(items))]
        work = [
            self._pool.submit(
                self._parse_and_verify, pending[i : i + PARSE_CHUNK], items[i : i + PARSE_CHUNK]
            )
            for i in range(0, len(items), PARSE_CHUNK)
        ]
        for future in work:
            future.result()
        return pending

    @staticmethod
    def _parse_into(slot: _Pending, item: object) -> None:
        # Size first: a reading that cannot fit in an entry is refused before any parsing.
        evidence = next(iter(item.values()), None) if isinstance(item, dict) else item
        if isinstance(evidence, str) and len(orjson.dumps(evidence)) > MAX_EVIDENCE_BYTES:
            slot.refusal = (
                Refusal.TOO_LARGE,
                f"a reading's evidence may take at most {MAX_EVIDENCE_BYTES} bytes in its entry",
            )
            return
        try:
            slot.reading = parse_reading(item)
        except UnsupportedAlgorithm as exc:
            slot.refusal = (Refusal.UNSUPPORTED_ALGORITHM, str(exc))
        except EvidenceError as exc:
            slot.refusal = (Refusal.MALFORMED, str(exc))

    def _parse_and_verify(self, slots: list[_Pending], items: Sequence[object]) -> None:
        for slot, item in zip(slots, items, strict=True):
            self._parse_into(slot, item)
        self._verify_slots(slots)

    def _meter_state(self, serial: str) -> MeterState:
        state = self.meter(serial, refresh=False)
        if state.seq == 0:
            self._catch_up(state, state.stream)
        return state

    def _verify_slots(self, slots: list[_Pending]) -> None:
        """Check each parsed reading's signature against its meter's keys valid at its time."""
        for slot in slots:
            reading = slot.reading
            slot.key_id, slot.verdict = None, None
            if reading is None:
                continue
            state = self._meter_state(reading.serial)
            if state.enrolled:
                slot.key_id, slot.verdict = self._verify((reading, state))

    def _apply_rules(
        self, pending: list[_Pending]
    ) -> tuple[list[IngestResult], list[NewEvent], list[str]]:
        serials = {p.reading.serial for p in pending if p.reading is not None}
        states = {serial: self._meter_state(serial) for serial in serials}
        # Then the rules, in submission order, against each meter's running state.
        running: dict[str, tuple[int, dict[str, int], Decimal | None]] = {
            serial: (s.seq, dict(s.last_sequence), s.last_register) for serial, s in states.items()
        }
        results: list[IngestResult] = []
        writes: list[NewEvent] = []
        streams: list[str] = []
        for slot in pending:
            reading = slot.reading
            if reading is None:
                assert slot.refusal is not None
                results.append(
                    IngestResult(
                        slot.position, False, reason=slot.refusal[0], detail=slot.refusal[1]
                    )
                )
                continue
            state = states[reading.serial]
            refusal = slot.verdict
            if refusal is None and not state.enrolled:
                refusal = (Refusal.UNKNOWN_METER, f"meter {reading.serial!r} is not enrolled")
            seq, last_sequences, last_register = running.get(reading.serial, (0, {}, None))
            gap = None
            if refusal is None:
                last = last_sequences.get(reading.sequence_kind)
                if last is not None and reading.sequence <= last:
                    refusal = (
                        Refusal.REPLAY,
                        f"meter {reading.serial!r} already reported sequence "
                        f"{reading.sequence_kind}{last}; {reading.sequence_kind}"
                        f"{reading.sequence} is a replay",
                    )
                elif last is not None and reading.sequence > last + 1:
                    gap = reading.sequence - last - 1
            if (
                refusal is None
                and reading.register is not None
                and last_register is not None
                and reading.register < last_register
            ):
                refusal = (
                    Refusal.REGISTER_BACKWARDS,
                    f"meter {reading.serial!r} register ran "
                    f"backwards from {last_register} to {reading.register}",
                )
            if (
                refusal is None
                and reading.unit is not None
                and state.carrier is not None
                and reading.unit not in CARRIER_UNITS[state.carrier]
            ):
                refusal = (
                    Refusal.WRONG_UNIT,
                    f"meter {reading.serial!r} measures {state.carrier}; "
                    f"unit {reading.unit!r} does not fit",
                )
            if refusal is not None:
                results.append(
                    IngestResult(
                        slot.position,
                        False,
                        meter=reading.serial,
                        reason=refusal[0],
                        detail=refusal[1],
                    )
                )
                continue
            assert slot.key_id is not None
            key = state.key(slot.key_id)
            if key is None or not key.valid_at(reading.time):
                # The meter's keys changed after the signature was checked: not valid now.
                results.append(
                    IngestResult(
                        slot.position,
                        False,
                        meter=reading.serial,
                        reason=Refusal.KEY_NOT_VALID,
                        detail=f"key {slot.key_id[:16]}… of meter {reading.serial!r} is not "
                        f"valid at {reading.time.isoformat()}",
                    )
                )
                continue
            last_sequences = {**last_sequences, reading.sequence_kind: reading.sequence}
            running[reading.serial] = (
                seq + 1,
                last_sequences,
                reading.register if reading.register is not None else last_register,
            )
            writes.append(
                reading.event(slot.key_id, gap).on(
                    state.stream, evidence=reading.raw, expected_seq=seq
                )
            )
            streams.append(state.stream)
            results.append(
                IngestResult(
                    slot.position,
                    True,
                    meter=reading.serial,
                    gap=gap,
                    time_status=reading.time_status,
                )
            )
        return results, writes, streams

    @staticmethod
    def _verify(
        job: tuple[IncomingReading, MeterState],
    ) -> tuple[str | None, tuple[Refusal, str] | None]:
        reading, state = job
        candidates = state.keys_valid_at(reading.time)
        if reading.key_id is not None:
            named = state.key(reading.key_id)
            if named is None:
                return None, (
                    Refusal.BAD_SIGNATURE,
                    f"meter {reading.serial!r} has no key {reading.key_id!r}",
                )
            candidates = [k for k in candidates if k.key_id == reading.key_id]
            if not candidates:
                reason = Refusal.REVOKED_KEY if named.revoked else Refusal.KEY_NOT_VALID
                return None, (
                    reason,
                    f"key {reading.key_id[:16]}… of meter {reading.serial!r} "
                    f"was not valid at {reading.time.isoformat()}",
                )
        last_error: EvidenceError | None = None
        for key in candidates:
            try:
                reading.verify(key)
                return key.key_id, None
            except EvidenceError as exc:
                last_error = exc
        if not candidates:
            # Say whether some other key of the meter signed it: that key was revoked or rotated.
            for key in state.keys:
                try:
                    reading.verify(key)
                except EvidenceError:
                    continue
                reason = Refusal.REVOKED_KEY if key.revoked else Refusal.KEY_NOT_VALID
                return None, (
                    reason,
                    f"key {key.key_id[:16]}… of meter {reading.serial!r} was "
                    f"not valid at {reading.time.isoformat()}",
                )
            return None, (
                Refusal.KEY_NOT_VALID,
                f"meter {reading.serial!r} had no valid key at {reading.time.isoformat()}",
            )
        if isinstance(last_error, UnsupportedAlgorithm):
            return None, (
                Refusal.UNSUPPORTED_ALGORITHM,
                f"meter {reading.serial!r}: {last_error}",
            )
        return None, (
            Refusal.BAD_SIGNATURE,
            f"signature does not verify with the key of meter {reading.serial!r}: {last_error}",
        )

    # -- methodologies -------------------------------------------------------------------------

    def adopt_methodology(self, key: str) -> dict[str, Any]:
        """Record the adoption of a methodology version (its data, digest and sources) in the
        log, so every result can name the version it used; adopting it again changes nothing."""
        methodology = self.methodologies.get(key)
        if methodology is None:
            raise NotFound(
                f"no methodology {key!r}; known: {', '.join(sorted(self.methodologies))}"
            )
        stream = events.methodology_stream(key)
        if self.store.head(stream) is not None:
            return {"methodology": key, "adopted": "before"}
        adopted = MethodologyAdopted(
            id=methodology.id,
            version=methodology.version,
            kind=methodology.kind,
            title=methodology.title,
            source=methodology.source,
            digest=methodology.digest,
        )
        try:
            (entry,) = self._append([adopted.on(stream, expected_seq=0)])
        except StreamConflict:
            return {"methodology": key, "adopted": "before"}
        return {"methodology": key, **self._receipt(entry)}

    def adopt_methodologies(self) -> list[dict[str, Any]]:
        """Record the adoption of every methodology this platform's factor table uses."""
        return [self.adopt_methodology(key) for key in self.factors.adopted]

    # -- claims and points ---------------------------------------------------------------------

    def claim_keys(self, activity: dict[str, Any]) -> list[ClaimKey]:
        """The claim keys of an activity: one for a source transaction, one per 15-minute slot
        for a meter interval."""
        if not isinstance(activity, dict):
            raise RequestError("activity must be an object")
        kind = activity.get("kind")
        if kind == "transaction":
            return [transaction_key(self.secret, activity.get("source"), activity.get("id"))]
        if kind == "meter-interval":
            serial = check_serial(activity.get("meter"))
            start = parse_time(activity.get("start"), "activity start")
            end = parse_time(activity.get("end"), "activity end")
            return meter_slot_keys(self.secret, serial, start, end)
        raise RequestError('activity kind must be "transaction" or "meter-interval"')

    def submit_claim(
        self,
        *,
        account: str,
        methodology: str,
        activity: dict[str, Any],
        quantity: str,
        action: str,
        evidence: Sequence[str] = (),
    ) -> dict[str, Any]:
        """Record a reduction claim and the points it earns, once per claim key.

        ``action`` names the methodology's activity (e.g. ``bus_electric`` person-km, or a points
        action such as ``bus_ride``); the reduction and points follow the methodology's data. The
        claim, its keys and the points award are written in one transaction: a key that an
        earlier claim holds refuses the whole claim, naming the entry that holds it.
        """
        account_state = self.account(account)
        if methodology not in self.methodologies:
            raise NotFound(f"no methodology {methodology!r}")
        amount = decimal_field(quantity, "quantity", positive=True)
        keys = self.claim_keys(activity)
        evidence_hashes = self._evidence(evidence)
        reduction_g, points, factor_ref = self._assess(methodology, action, amount)
        claim_id = hashlib.sha256(
            ("claim\n" + "\n".join(sorted(k.key for k in keys))).encode()
        ).hexdigest()[:32]
        claim_stream = events.claim_stream(claim_id)
        recorded = ClaimRecorded(
            claim=claim_id,
            account=account,
            methodology=methodology,
            factor=factor_ref,
            action=action,
            activity_kind=activity["kind"],
            quantity=amount,
            reduction_g=reduction_g,
            points=points,
            keys=[k.key for k in keys],
            evidence=evidence_hashes,
        )
        held = ClaimKeyHeld(claim=claim_id, account=account)
        for _ in range(RETRIES):
            writes = [recorded.on(claim_stream, expected_seq=0)]
            writes += [held.on(events.claimkey_stream(k.key), expected_seq=0) for k in keys]
            if points:
                awarded = PointsAwarded(
                    points=points, action=action, methodology=methodology, claim=claim_id
                )
                writes.append(awarded.on(account_stream(account), expected_seq=account_state.seq))
            try:
                entries = self._append(writes)
            except StreamConflict:
                holder = self._claim_holder(claim_stream, keys)
                if holder is not None:
                    raise AlreadyClaimed(
                        f"this activity is already claimed: claim key {holder['key'][:16]}… is "
                        f"held by {holder['stream']} (leaf hash {holder['leaf_hash']})",
                        holder,
                    ) from None
                account_state = self.account(account)
                continue
            return {
                "claim": claim_id,
                "reduction_g": str(reduction_g),
                "points": points,
                "keys": len(keys),
                **self._receipt(entries[0]),
            }
        raise Conflict(f"account {account!r} kept changing; try again")

    def _evidence(self, evidence: Sequence[object]) -> list[str]:
        """Check that every piece of evidence is the leaf hash (base64) of an entry in the log."""
        if isinstance(evidence, str) or len(evidence) > 1000:
            raise RequestError("evidence must be a list of at most 1000 leaf hashes")
        digests = []
        for value in evidence:
            if not isinstance(value, str):
                raise RequestError("evidence must be leaf hashes (base64) of entries in the log")
            try:
                digest = base64.b64decode(value, validate=True)
            except ValueError as exc:
                raise RequestError(f"evidence {value!r} is not base64") from exc
            if len(digest) != 32:
                raise RequestError(f"evidence {value!r} is not a 32-byte leaf hash")
            digests.append(digest)
        found = self.ledger.log.leaf_indexes(digests)
        for value, digest in zip(evidence, digests, strict=True):
            if digest not in found:
                raise RequestError(
                    f"evidence {value} is not an entry of the log (yet): claims cite entries "
                    "once they are integrated"
                )
        return [b64(d) for d in digests]

    def _claim_holder(self, claim_stream: str, keys: Sequence[ClaimKey]) -> dict[str, Any] | None:
        for key in keys:
            held = self.store.read_stream(events.claimkey_stream(key.key), limit=1)
            if held:
                entry = held[0]
                holding = events.decode(entry.decode())
                return {
                    "key": key.key,
                    "stream": entry.stream,
                    "seq": entry.seq,
                    "claim": holding.claim if isinstance(holding, ClaimKeyHeld) else None,
                    "leaf_hash": b64(entry.leaf_hash),
                    "log_index": self.ledger.log.leaf_index(entry.leaf_hash),
                }
        return None

    def _assess(self, methodology: str, action: str, amount: Decimal) -> tuple[Decimal, int, str]:
        """Reduction (grams CO2) and points for ``amount`` of ``action`` under a methodology, and
        the reference (``id@version#factor``) of what was used."""
        if methodology not in self.factors.adopted:
            raise RequestError(
                f"methodology {methodology!r} is not adopted here (adopted: "
                f"{', '.join(self.factors.adopted)})"
            )
        chosen = self.methodologies[methodology]
        if chosen.kind == "inclusion":
            factor = chosen.factor(action)
            prefix = factor.unit.split(" ", 1)[0]
            if prefix not in GRAMS_PER:
                raise RequestError(f"factor {factor.id!r} is in {factor.unit!r}, not a mass")
            grams = (amount * factor.value * GRAMS_PER[prefix]).quantize(Decimal("0.001"))
            return grams, 0, f"{methodology}#{action}"
        if chosen.kind == "points":
            if self.factors.rule_methodology("points") != methodology:
                raise RequestError(f"points follow {self.factors.rule_methodology('points')}")
            return Decimal(0), self.factors.points_for(action, amount), f"{methodology}#{action}"
        raise RequestError(f"methodology {methodology!r} ({chosen.kind}) does not assess claims")

    def award_points(
        self, *, account: str, action: str, quantity: str = "1", methodology: str, cites: str
    ) -> dict[str, Any]:
        """Award points by the methodology's rule for ``action``, citing what they are for."""
        amount = decimal_field(quantity, "quantity", positive=True)
        _, points, _ = self._assess(methodology, action, amount)
        text_field(cites, "cites")
        return self._account_change(
            account,
            lambda state: PointsAwarded(
                points=points, action=action, methodology=methodology, cites=cites
            ).on(account_stream(account), expected_seq=state.seq),
        )

    def redeem_points(self, *, account: str, points: int, item: str) -> dict[str, Any]:
        """Redeem points for an item; refused when the account holds fewer points."""
        if isinstance(points, bool) or not isinstance(points, int) or points <= 0:
            raise RequestError("points must be a positive integer")
        text_field(item, "item")

        def build(state: AccountState) -> NewEvent:
            if state.points < points:
                raise Overdrawn(
                    f"account {account!r} holds {state.points} points, "
                    f"fewer than the {points} asked for"
                )
            return PointsRedeemed(points=points, item=item).on(
                account_stream(account), expected_seq=state.seq
            )

        return self._account_change(account, build)

    def _account_change(
        self, account: str, build: Callable[[AccountState], NewEvent]
    ) -> dict[str, Any]:
        for _ in range(RETRIES * 4):
            state = self.account(account)
            write = build(state)
            try:
                (entry,) = self._append([write])
            except StreamConflict:
                continue
            change = write.body
            assert isinstance(change, PointsAwarded | PointsRedeemed)
            return {"account": account, "points": change.points, **self._receipt(entry)}
        raise Conflict(f"account {account!r} kept changing; try again")

    # -- economic data -------------------------------------------------------------------------

    def enroll_reporter(self, *, reporter: str, public_key: str, name: str) -> dict[str, Any]:
        """Enroll a reporting body (statistics or tax bureau) whose key signs economic data."""
        reporter = check_account_id(reporter)
        algorithm, spki, _ = load_public_key(public_key)
        enrolled = ReporterEnrolled(
            name=text_field(name, "name"),
            algorithm=algorithm,
            public_key=base64.b64encode(spki).decode(),
            key_id=key_id_of(spki),
        )
        try:
            (entry,) = self._append([enrolled.on(events.reporter_stream(reporter), expected_seq=0)])
        except StreamConflict as exc:
            raise AlreadyExists(f"reporter {reporter!r} is already enrolled") from exc
        return {"reporter": reporter, **self._receipt(entry)}

    def report_economic_data(self, compact_jws: str) -> dict[str, Any]:
        """Record an enterprise's output, value added and tax for a period, as signed by an
        enrolled reporting body. Payload: ``{"reporter", "account", "period" (YYYY or YYYY-MM),
        "output", "output_unit", "value_added", "tax"}`` with decimal strings in yuan."""
        from cryptography.hazmat.primitives import serialization

        try:
            document = parse_jws_document(compact_jws)
        except EvidenceError as exc:
            raise RequestError(f"economic report: {exc}") from exc
        payload = document.payload
        reporter = check_account_id(payload.get("reporter"))
        enrolled = self.store.read_stream(events.reporter_stream(reporter), limit=1)
        reporter_key = events.decode(enrolled[0].decode()) if enrolled else None
        if not isinstance(reporter_key, ReporterEnrolled):
            raise NotFound(f"reporter {reporter!r} is not enrolled")
        key = serialization.load_der_public_key(base64.b64decode(reporter_key.public_key))
        try:
            verify_jws_signature(document.alg, document.signing_input, document.signature, key)  # type: ignore[arg-type]
        except EvidenceError as exc:
            raise RequestError(f"economic report signature: {exc}") from exc
        account = check_account_id(payload.get("account"))
        state = self.account(account)
        if state.kind != "enterprise":
            raise RequestError(f"account {account!r} is not an enterprise")
        period = text_field(payload.get("period"), "period", limit=7)
        for fmt in PERIOD_FORMATS:
            try:
                datetime.strptime(period, fmt)
                break
            except ValueError:
                continue
        else:
            raise RequestError(f"period {period!r} must be YYYY or YYYY-MM")
        reported = EconomicReported(
            reporter=reporter,
            account=account,
            period=period,
            output=decimal_field(payload.get("output"), "output"),
            output_unit=text_field(payload.get("output_unit"), "output_unit", limit=40),
            value_added=decimal_field(payload.get("value_added"), "value_added"),
            tax=decimal_field(payload.get("tax"), "tax"),
        )
        (entry,) = self._append(
            [reported.on(events.economic_stream(account), evidence=compact_jws)]
        )
        return {"account": account, "period": period, **self._receipt(entry)}

    # -- reading back --------------------------------------------------------------------------

    def history(self, account: str, *, limit: int = 200) -> list[dict[str, Any]]:
        """The account's own entries, newest last, each with its log index once integrated."""
        entries = self.store.read_stream(account_stream(check_account_id(account)))[-limit:]
        indexes = self.ledger.log.leaf_indexes([e.leaf_hash for e in entries])
        out = []
        for entry in entries:
            decoded = decode_entry(entry.data)
            out.append(
                {
                    "seq": entry.seq,
                    "type": decoded.type,
                    "time": decoded.time,
                    "body": decoded.body,
                    "leaf_hash": b64(entry.leaf_hash),
                    "log_index": indexes.get(entry.leaf_hash),
                }
            )
        return out


__all__ = ["CarbonAccounts", "DomainError", "IngestResult"]

"""Open Charge Metering Format (OCMF): parsing and verifying meter readings signed at the meter.

Follows the S.A.F.E. e.V. specification "Open Charge Metering Format" (revision 1.2,
github.com/SAFE-eV/OCMF-Open-Charge-Metering-Format) and reads the XML export of the S.A.F.E.
transparency software (github.com/SAFE-eV/transparenzsoftware). A record is
``OCMF|<payload JSON>|<signature JSON>``. The signature covers the exact bytes of the payload
section, so a record is kept exactly as received and never re-serialised: ``"RV":1.606848e7`` stays
as written, and numbers are read as exact decimals.

Tested against real records from the transparency software and from paul-ww/pyocmf, with their
meters' public keys (``../shared/fixtures/ocmf/``).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from xml.etree import ElementTree
from xml.parsers import expat

from cryptography.exceptions import InvalidSignature
from cryptography.exceptions import UnsupportedAlgorithm as _CryptographyUnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from domain.errors import BadSignature, MalformedEvidence, UnsupportedAlgorithm
from domain.strict_json import STRICT_DECODER, json_type, load_object, quoted

__all__ = [
    "DEFAULT_SIGNATURE_ALGORITHM",
    "OcmfReading",
    "OcmfRecord",
    "OcmfXmlValue",
    "Pagination",
    "load_ocmf_public_key",
    "parse_ocmf",
    "parse_transparency_xml",
    "verify_ocmf",
]

HEADER = "OCMF"
DEFAULT_SIGNATURE_ALGORITHM = "ECDSA-secp256r1-SHA256"
DEFAULT_SIGNATURE_ENCODING = "hex"
DEFAULT_SIGNATURE_MIME_TYPE = "application/x-der"

# Spec table 22 names the curves of the SA identifier; the Brainpool curves are written without the
# "P" there ("brainpool256r1") and with it everywhere else ("brainpoolP256r1"). Keys are lower case.
_CURVES: dict[str, ec.EllipticCurve] = {
    "secp256r1": ec.SECP256R1(),
    "prime256v1": ec.SECP256R1(),
    "secp384r1": ec.SECP384R1(),
    "prime384v1": ec.SECP384R1(),
    "secp256k1": ec.SECP256K1(),
    "brainpool256r1": ec.BrainpoolP256R1(),
    "brainpoolp256r1": ec.BrainpoolP256R1(),
    "brainpool384r1": ec.BrainpoolP384R1(),
    "brainpoolp384r1": ec.BrainpoolP384R1(),
}
_SUPPORTED_CURVE_NAMES = frozenset(curve.name for curve in _CURVES.values())
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "SHA256": hashes.SHA256,
    "SHA384": hashes.SHA384,
    "SHA512": hashes.SHA512,
}

PAGINATION_KINDS = frozenset("TF")  # T: transaction, F: fiscal (spec table 2)
TIME_STATUSES = frozenset("UISR")  # spec table 19
TRANSACTION_CODES = frozenset("BCXELRAPST")  # spec table 7, field TX
METER_STATUSES = frozenset("NGTDRMXIOSEF")  # spec table 10
_MAX_PAGINATION = 2**63 - 1

_JSON_WHITESPACE = " \t\n\r"
_PAGINATION_RE = re.compile(r"([A-Z])(0|[1-9][0-9]*)", re.ASCII)
# Spec: "2018-07-24T13:22:04,000+0200 S". Also read: a "." before the fraction, 1-6 fraction
# digits or none, a "+02:00" or "Z" offset.
_TIME_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:[,.](\d{1,6}))?(Z|[+-]\d{2}:?\d{2})"
    r" (\S)",
    re.ASCII,
)
_DECIMAL_TEXT_RE = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?", re.ASCII)
_HEX_RE = re.compile(r"(?:[0-9A-Fa-f]{2})+", re.ASCII)
_BASE64_RE = re.compile(r"[A-Za-z0-9+/]+={0,2}", re.ASCII)
_BASE64URL_RE = re.compile(r"[A-Za-z0-9_-]+={0,2}", re.ASCII)
_WHITESPACE_RE = re.compile(r"\s+")


@dataclass(frozen=True)
class Pagination:
    """An OCMF pagination ``PG``: the context letter (``T`` transaction, ``F`` fiscal) and the
    counter, which goes up by one per signed record in that context."""

    kind: str
    number: int

    def __str__(self) -> str:
        return f"{self.kind}{self.number}"


@dataclass(frozen=True)
class OcmfReading:
    """One element of an OCMF record's ``RD`` list, after filling in the fields it inherits from
    the reading before it.

    ``time_text`` is ``TM`` as written (with its status letter), ``time`` the aware datetime it
    names and ``time_status`` the letter (U unknown, I informative, S synchronised, R relative).
    ``value`` is ``RV`` as an exact decimal, ``None`` only for an error event without a value.
    """

    time_text: str
    time: datetime
    time_status: str
    transaction: str | None
    value: Decimal | None
    reading_id: str | None
    unit: str | None
    current_type: str | None
    error_flags: str | None
    cumulated_loss: Decimal | None
    status: str


@dataclass(frozen=True)
class OcmfRecord:
    """A parsed OCMF record. ``raw`` is the record exactly as received and ``payload_bytes`` the
    exact UTF-8 bytes of its payload section, which is what the signature covers; ``payload`` is
    that section as JSON, with every non-integer number as an exact ``Decimal``."""

    raw: str
    payload_bytes: bytes
    payload: dict[str, Any] = field(hash=False)
    signature_algorithm: str
    signature_encoding: str
    signature_mime_type: str
    signature: bytes
    meter_serial: str
    gateway_serial: str | None
    pagination: Pagination
    readings: tuple[OcmfReading, ...]


@dataclass(frozen=True)
class OcmfXmlValue:
    """One ``<value>`` of a transparency-software XML export: the OCMF record it holds (decoded
    from the ``signedData`` encoding), the meter's public key text as written, and the encoding
    the export claims for that key (which real exports often get wrong; see
    :func:`load_ocmf_public_key`)."""

    ocmf: str
    public_key: str | None
    public_key_encoding: str | None
    transaction_id: str | None
    context: str | None


# --- parsing -------------------------------------------------------------------------------------


def parse_ocmf(raw: str) -> OcmfRecord:
    """Parse the OCMF record ``raw`` (``OCMF|<payload>|<signature>``) without changing a byte of
    it; raise MalformedEvidence naming the first thing that is wrong."""
    if not isinstance(raw, str):
        raise MalformedEvidence(f"an OCMF record must be text, not {type(raw).__name__}")
    if not raw.startswith(HEADER + "|"):
        raise MalformedEvidence(
            f"an OCMF record starts with 'OCMF|', this one with {quoted(raw[:8])}"
        )
    payload_section, payload, signature_section = _split_sections(raw)
    try:
        payload_bytes = payload_section.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise MalformedEvidence(f"OCMF payload is not valid Unicode text: {exc.reason}") from None
    signature_fields = load_object(signature_section, "OCMF signature section")

    meter_serial = _optional_str(payload, "MS", "OCMF payload")
    gateway_serial = _optional_str(payload, "GS", "OCMF payload")
    if not meter_serial:
        if not gateway_serial:
            raise MalformedEvidence("OCMF payload names neither a meter serial MS nor a gateway GS")
        meter_serial = gateway_serial

    return OcmfRecord(
        raw=raw,
        payload_bytes=payload_bytes,
        payload=payload,
        signature_algorithm=_optional_str(signature_fields, "SA", "OCMF signature")
        or DEFAULT_SIGNATURE_ALGORITHM,
        signature_encoding=_signature_encoding(signature_fields),
        signature_mime_type=_optional_str(signature_fields, "SM", "OCMF signature")
        or DEFAULT_SIGNATURE_MIME_TYPE,
        signature=_signature_data(signature_fields),
        meter_serial=meter_serial,
        gateway_serial=gateway_serial,
        pagination=_pagination(payload),
        readings=_readings(payload),
    )


def _split_sections(raw: str) -> tuple[str, dict[str, Any], str]:
    """Return the payload section of ``raw``, its JSON object, and the signature section. The
    payload section ends where its JSON object ends, so a ``|`` inside a JSON string cannot split
    it; whitespace around the object belongs to the section (and so to the signed bytes)."""
    start = len(HEADER) + 1
    json_start = _skip_whitespace(raw, start)
    try:
        payload, json_end = STRICT_DECODER.raw_decode(raw, json_start)
    except (ValueError, RecursionError) as exc:
        raise MalformedEvidence(f"OCMF payload is not valid JSON: {_json_reason(exc)}") from None
    if not isinstance(payload, dict):
        raise MalformedEvidence(f"OCMF payload must be a JSON object, not {json_type(payload)}")
    separator = _skip_whitespace(raw, json_end)
    if separator >= len(raw):
        raise MalformedEvidence(
            "OCMF record ends after the payload: the signature section is missing"
        )
    if raw[separator] != "|":
        raise MalformedEvidence(
            f"OCMF payload JSON is followed by {quoted(raw[separator])} at character {separator}, "
            "not by the '|' that starts the signature section"
        )
    return raw[start:separator], payload, raw[separator + 1 :]


def _skip_whitespace(text: str, index: int) -> int:
    while index < len(text) and text[index] in _JSON_WHITESPACE:
        index += 1
    return index


def _json_reason(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return str(exc)


def _optional_str(obj: dict[str, Any], key: str, where: str) -> str | None:
    """Return ``obj[key]`` when it is a string, None when it is absent or null."""
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedEvidence(f"{where} field {key} must be a string, not {json_type(value)}")
    return value


def _required_str(obj: dict[str, Any], key: str, where: str) -> str:
    value = _optional_str(obj, key, where)
    if value is None:
        raise MalformedEvidence(f"{where} field {key} is missing")
    return value


def _signature_encoding(signature_fields: dict[str, Any]) -> str:
    encoding = _optional_str(signature_fields, "SE", "OCMF signature")
    if encoding is None:
        return DEFAULT_SIGNATURE_ENCODING
    if encoding.lower() not in ("hex", "base64"):
        raise MalformedEvidence(
            f"OCMF signature encoding SE {quoted(encoding)} is neither hex nor base64"
        )
    return encoding.lower()


def _signature_data(signature_fields: dict[str, Any]) -> bytes:
    data = _required_str(signature_fields, "SD", "OCMF signature")
    encoding = _signature_encoding(signature_fields)
    if encoding == "hex":
        if not _HEX_RE.fullmatch(data):
            raise MalformedEvidence("OCMF signature SD is not hex (SE is hex or absent)")
        return bytes.fromhex(data)
    decoded = _decode_base64(data)
    if decoded is None:
        raise MalformedEvidence("OCMF signature SD is not base64 (SE is base64)")
    return decoded


def _decode_base64(text: str) -> bytes | None:
    """Decode standard or URL-safe base64, with or without padding; None when it is not base64."""
    if _BASE64_RE.fullmatch(text):
        alphabet = None
    elif _BASE64URL_RE.fullmatch(text):
        alphabet = b"-_"
    else:
        return None
    unpadded = text.rstrip("=")
    if len(unpadded) % 4 == 1:
        return None
    padded = unpadded + "=" * (-len(unpadded) % 4)
    try:
        return base64.b64decode(padded, altchars=alphabet, validate=True)
    except binascii.Error:
        return None


def _pagination(payload: dict[str, Any]) -> Pagination:
    text = _required_str(payload, "PG", "OCMF payload")
    match = _PAGINATION_RE.fullmatch(text)
    if match is None:
        raise MalformedEvidence(
            f"OCMF pagination PG {quoted(text)} is not a context letter and a number "
            "without leading zeros (e.g. 'T12')"
        )
    kind, digits = match.groups()
    if kind not in PAGINATION_KINDS:
        raise MalformedEvidence(
            f"OCMF pagination PG {quoted(text)} has context {kind}; the spec defines T and F"
        )
    if len(digits) > 19 or int(digits) > _MAX_PAGINATION:
        raise MalformedEvidence(f"OCMF pagination PG {quoted(text)} is too large")
    return Pagination(kind, int(digits))


def _readings(payload: dict[str, Any]) -> tuple[OcmfReading, ...]:
    entries = payload.get("RD")
    if entries is None:
        raise MalformedEvidence("OCMF payload field RD (readings) is missing")
    if not isinstance(entries, list):
        raise MalformedEvidence(f"OCMF payload field RD must be an array, not {json_type(entries)}")
    if not entries:
        raise MalformedEvidence("OCMF payload field RD holds no readings")
    readings = []
    inherited: dict[str, Any] = {}
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise MalformedEvidence(
                f"OCMF reading RD[{index}] must be an object, not {json_type(entry)}"
            )
        # Spec: "fields that have an identical value to the previous reading are omitted", within
        # one record; so each reading is the previous one with its own fields written over it.
        inherited = {**inherited, **entry}
        readings.append(_reading(inherited, f"OCMF reading RD[{index}]"))
    return tuple(readings)


def _reading(fields: dict[str, Any], where: str) -> OcmfReading:
    time_text = _required_str(fields, "TM", where)
    time, time_status = _reading_time(time_text, where)
    transaction = _optional_str(fields, "TX", where)
    if transaction is not None and transaction not in TRANSACTION_CODES:
        raise MalformedEvidence(
            f"{where} transaction code TX {quoted(transaction)} is not one of B C X E L R A P S T"
        )
    status = _required_str(fields, "ST", where)
    if status not in METER_STATUSES:
        raise MalformedEvidence(
            f"{where} meter status ST {quoted(status)} is not one of N G T D R M X I O S E F"
        )
    value = _reading_number(fields, "RV", where)
    unit = _optional_str(fields, "RU", where)
    if value is not None and not unit:
        raise MalformedEvidence(f"{where} has a value RV but no unit RU")
    return OcmfReading(
        time_text=time_text,
        time=time,
        time_status=time_status,
        transaction=transaction,
        value=value,
        reading_id=_optional_str(fields, "RI", where),
        unit=unit,
        current_type=_optional_str(fields, "RT", where),
        error_flags=_optional_str(fields, "EF", where),
        cumulated_loss=_reading_number(fields, "CL", where),
        status=status,
    )


def _reading_time(text: str, where: str) -> tuple[datetime, str]:
    match = _TIME_RE.fullmatch(text)
    if match is None:
        raise MalformedEvidence(
            f"{where} time TM {quoted(text)} is not like '2018-07-24T13:22:04,000+0200 S'"
        )
    year, month, day, hour, minute, second, fraction, offset, status = match.groups()
    if status not in TIME_STATUSES:
        raise MalformedEvidence(
            f"{where} time TM {quoted(text)} has status {quoted(status)}, not U, I, S or R"
        )
    try:
        zone = _time_zone(offset)
        time = datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second),
            int((fraction or "0").ljust(6, "0")),
            tzinfo=zone,
        )
    except ValueError as exc:
        raise MalformedEvidence(
            f"{where} time TM {quoted(text)} is not a valid time: {exc}"
        ) from None
    return time, status


def _time_zone(offset: str) -> timezone:
    if offset == "Z":
        return UTC
    digits = offset[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:])
    if minutes >= 60:
        raise ValueError(f"offset minutes {minutes} out of range")
    delta = timedelta(hours=hours, minutes=minutes)
    return timezone(-delta if offset[0] == "-" else delta)


def _reading_number(fields: dict[str, Any], key: str, where: str) -> Decimal | None:
    """Return the number ``fields[key]`` exactly: a JSON number, or a decimal in a string (some
    meters pad the value, e.g. ``"RV":"  0.2596"``)."""
    value = fields.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise MalformedEvidence(f"{where} field {key} must be a number, not {json_type(value)}")
    if isinstance(value, str):
        text = value.strip()
        if not _DECIMAL_TEXT_RE.fullmatch(text):
            raise MalformedEvidence(f"{where} field {key} {quoted(value)} is not a decimal number")
        return Decimal(text)
    return Decimal(value)


# --- verification --------------------------------------------------------------------------------


def verify_ocmf(record: OcmfRecord, public_key: ec.EllipticCurvePublicKey) -> None:
    """Check that ``record.signature`` is the meter's ECDSA signature, by ``public_key``, of the
    record's exact payload bytes, with the curve and hash its SA names.

    Raises UnsupportedAlgorithm when the SA, the signature format SM or the key type is not one
    carbonledger verifies, and BadSignature when the key is on another curve than the SA names or
    the signature does not verify.
    """
    curve, hash_algorithm = _signature_algorithm(record.signature_algorithm)
    if record.signature_mime_type.lower() != DEFAULT_SIGNATURE_MIME_TYPE:
        raise UnsupportedAlgorithm(
            f"OCMF signature format SM {quoted(record.signature_mime_type)} is not supported "
            f"(only {DEFAULT_SIGNATURE_MIME_TYPE})"
        )
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        raise UnsupportedAlgorithm(
            f"OCMF signatures are ECDSA; the public key given is {type(public_key).__name__}"
        )
    if public_key.curve.name != curve.name:
        raise BadSignature(
            f"OCMF record of meter {record.meter_serial} is signed on {curve.name} (SA "
            f"{record.signature_algorithm}), but the public key is on {public_key.curve.name}"
        )
    try:
        public_key.verify(record.signature, record.payload_bytes, ec.ECDSA(hash_algorithm()))
    except (InvalidSignature, ValueError):
        raise BadSignature(
            f"OCMF signature of meter {record.meter_serial}, pagination {record.pagination}, "
            "does not verify with the public key given"
        ) from None


def _signature_algorithm(identifier: str) -> tuple[ec.EllipticCurve, type[hashes.HashAlgorithm]]:
    """Return the curve and hash an OCMF SA identifier such as ``ECDSA-secp256r1-SHA256`` names."""
    parts = identifier.split("-")
    if len(parts) != 3 or parts[0].upper() != "ECDSA":
        raise UnsupportedAlgorithm(
            f"OCMF signature algorithm SA {quoted(identifier)} is not of the form "
            "ECDSA-<curve>-<hash>"
        )
    curve = _CURVES.get(parts[1].lower())
    if curve is None:
        raise UnsupportedAlgorithm(
            f"OCMF signature algorithm SA {quoted(identifier)} uses curve "
            f"{quoted(parts[1])}; supported: secp256r1, secp384r1, secp256k1, "
            "brainpool256r1, brainpool384r1"
        )
    hash_algorithm = _HASHES.get(parts[2].upper())
    if hash_algorithm is None:
        raise UnsupportedAlgorithm(
            f"OCMF signature algorithm SA {quoted(identifier)} uses hash "
            f"{quoted(parts[2])}; supported: SHA256, SHA384, SHA512"
        )
    return curve, hash_algorithm


def _curve_from_hint(hint: str) -> ec.EllipticCurve:
    """Return the curve named by an OCMF SA identifier or by a curve name alone."""
    if "-" in hint:
        return _signature_algorithm(hint)[0]
    curve = _CURVES.get(hint.lower())
    if curve is None:
        raise UnsupportedAlgorithm(
            f"curve {quoted(hint)} is not one carbonledger verifies OCMF with"
        )
    return curve


# --- public keys ---------------------------------------------------------------------------------


def load_ocmf_public_key(text: str, curve_hint: str | None = None) -> ec.EllipticCurvePublicKey:
    """Return the EC public key written in ``text``, however a meter maker or export wrote it.

    ``text`` may be hex (upper or lower case, with or without spaces or colons) or base64
    (standard or URL-safe), whatever the export claims; it may hold a DER SubjectPublicKeyInfo, a
    PEM one, or a raw SEC1 point (``04||X||Y``, compressed, or ``X||Y`` alone), whose curve then
    comes from ``curve_hint``: the record's SA (``ECDSA-brainpool256r1-SHA256``) or a curve name.

    Raises MalformedEvidence saying why no reading worked, or UnsupportedAlgorithm for a key that
    is not on a curve carbonledger verifies OCMF with.
    """
    if not isinstance(text, str):
        raise MalformedEvidence(f"a public key must be text, not {type(text).__name__}")
    if curve_hint is not None and not isinstance(curve_hint, str):
        raise MalformedEvidence(f"curve_hint must be text, not {type(curve_hint).__name__}")
    stripped = text.strip()
    if not stripped:
        raise MalformedEvidence("the public key is empty")
    if stripped.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_public_key(stripped.encode("ascii"))
        except (ValueError, UnicodeEncodeError, _CryptographyUnsupportedAlgorithm) as exc:
            raise MalformedEvidence(f"the PEM public key does not load: {exc}") from None
        return _supported_ec_key(key)

    candidates = _public_key_encodings(stripped)
    if not candidates:
        raise MalformedEvidence("the public key is neither hex nor base64 text")
    reasons = []
    unsupported: UnsupportedAlgorithm | None = None
    for encoding, data in candidates:
        try:
            return _public_key_from_bytes(data, curve_hint)
        except UnsupportedAlgorithm as exc:
            unsupported = exc
        except MalformedEvidence as exc:
            reasons.append(f"read as {encoding} ({len(data)} bytes): {exc}")
    if unsupported is not None:
        raise unsupported
    raise MalformedEvidence("the public key does not load; " + "; ".join(reasons))


def _public_key_encodings(text: str) -> list[tuple[str, bytes]]:
    compact = _WHITESPACE_RE.sub("", text)
    candidates = []
    hex_text = compact.replace(":", "")
    if hex_text[:2].lower() == "0x":
        hex_text = hex_text[2:]
    if _HEX_RE.fullmatch(hex_text):
        candidates.append(("hex", bytes.fromhex(hex_text)))
    decoded = _decode_base64(compact)
    if decoded:
        candidates.append(("base64", decoded))
    return candidates


def _public_key_from_bytes(data: bytes, curve_hint: str | None) -> ec.EllipticCurvePublicKey:
    try:
        key = serialization.load_der_public_key(data)
    except _CryptographyUnsupportedAlgorithm as exc:
        raise UnsupportedAlgorithm(f"the public key uses an unsupported algorithm: {exc}") from None
    except ValueError:
        pass
    else:
        return _supported_ec_key(key)
    if curve_hint is None:
        raise MalformedEvidence(
            "not a DER SubjectPublicKeyInfo, and a raw EC point needs its curve "
            "(pass the record's SA as curve_hint)"
        )
    curve = _curve_from_hint(curve_hint)
    coordinate_bytes = (curve.key_size + 7) // 8
    point = b"\x04" + data if len(data) == 2 * coordinate_bytes else data
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(curve, point)
    except ValueError:
        raise MalformedEvidence(
            f"neither a DER SubjectPublicKeyInfo nor a point on {curve.name}"
        ) from None


def _supported_ec_key(key: object) -> ec.EllipticCurvePublicKey:
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise UnsupportedAlgorithm(
            f"OCMF meters sign with ECDSA; the public key is {type(key).__name__}"
        )
    if key.curve.name not in _SUPPORTED_CURVE_NAMES:
        raise UnsupportedAlgorithm(f"the public key is on {key.curve.name}, not a supported curve")
    return key


# --- transparency-software XML -------------------------------------------------------------------


class _XmlRefused(Exception):
    """Raised from inside the XML parser to stop at a construct we do not accept."""


def parse_transparency_xml(data: bytes) -> list[OcmfXmlValue]:
    """Return the OCMF values of a S.A.F.E. transparency-software XML export, in document order.

    The export is ``<values><value><signedData format="OCMF" encoding="plain|base64|hex">...
    </signedData><publicKey encoding="...">...</publicKey></value>...</values>``; the public key
    is optional. Document type declarations (and with them entities) are refused, so an export
    cannot expand entities or reach for external files. Raises MalformedEvidence naming the value
    that is wrong.
    """
    root = _parse_xml(data)
    if root.tag != "values":
        raise MalformedEvidence(f"transparency XML root element is <{root.tag}>, not <values>")
    values = []
    for number, element in enumerate(root, start=1):
        if element.tag != "value":
            raise MalformedEvidence(
                f"transparency XML <values> holds <{element.tag}> as element {number}; "
                "only <value> elements belong there"
            )
        values.append(_xml_value(element, f"transparency XML value {number}"))
    if not values:
        raise MalformedEvidence("transparency XML holds no <value>")
    return values


def _parse_xml(data: bytes) -> ElementTree.Element:
    if not isinstance(data, bytes | bytearray | memoryview | str):
        raise MalformedEvidence(f"transparency XML must be bytes, not {type(data).__name__}")

    def refuse_doctype(*_: object) -> None:
        raise _XmlRefused("transparency XML may not contain a <!DOCTYPE> declaration")

    def refuse_entity(*_: object) -> None:
        raise _XmlRefused("transparency XML may not declare entities")

    def refuse_external_entity(*_: str | None) -> int:
        raise _XmlRefused("transparency XML may not refer to external entities")

    builder = ElementTree.TreeBuilder()
    parser = expat.ParserCreate()
    parser.StartDoctypeDeclHandler = refuse_doctype
    parser.EntityDeclHandler = refuse_entity
    parser.UnparsedEntityDeclHandler = refuse_entity
    parser.ExternalEntityRefHandler = refuse_external_entity
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data
    parser.buffer_text = True
    try:
        parser.Parse(bytes(data) if not isinstance(data, str) else data, True)
        return builder.close()
    except _XmlRefused as exc:
        raise MalformedEvidence(str(exc)) from None
    except (expat.ExpatError, ValueError) as exc:
        raise MalformedEvidence(f"transparency XML does not parse: {exc}") from None


def _xml_value(element: ElementTree.Element, where: str) -> OcmfXmlValue:
    signed_data: ElementTree.Element | None = None
    public_key: ElementTree.Element | None = None
    for child in element:
        if child.tag == "signedData" and signed_data is None:
            signed_data = child
        elif child.tag == "publicKey" and public_key is None:
            public_key = child
        else:
            raise MalformedEvidence(f"{where} holds an unexpected or repeated <{child.tag}>")
    if signed_data is None:
        raise MalformedEvidence(f"{where} has no <signedData>")

    data_format = signed_data.get("format")
    if data_format is not None and data_format.strip().upper() != "OCMF":
        raise MalformedEvidence(
            f"{where} holds signed data in format {quoted(data_format)}, not OCMF"
        )
    ocmf = _xml_text(signed_data, signed_data.get("encoding"), f"{where} <signedData>")
    if not ocmf:
        raise MalformedEvidence(f"{where} <signedData> is empty")

    key_text = key_encoding = None
    if public_key is not None:
        if len(public_key):
            raise MalformedEvidence(f"{where} <publicKey> holds elements, not text")
        key_text = (public_key.text or "").strip() or None
        stated = public_key.get("encoding")
        key_encoding = stated.strip() if stated is not None else None
    return OcmfXmlValue(
        ocmf=ocmf,
        public_key=key_text,
        public_key_encoding=key_encoding,
        transaction_id=element.get("transactionId"),
        context=element.get("context"),
    )


def _xml_text(element: ElementTree.Element, encoding: str | None, where: str) -> str:
    if len(element):
        raise MalformedEvidence(f"{where} holds elements, not text")
    text = element.text or ""
    encoding = (encoding or "plain").strip().lower()
    if encoding == "plain":
        # Whitespace around the record is layout; the payload section sits between the pipes.
        return text.strip()
    compact = _WHITESPACE_RE.sub("", text)
    if encoding == "base64":
        decoded = _decode_base64(compact) if compact else b""
        if decoded is None:
            raise MalformedEvidence(f"{where} is declared base64 but is not base64")
    elif encoding == "hex":
        if compact and not _HEX_RE.fullmatch(compact):
            raise MalformedEvidence(f"{where} is declared hex but is not hex")
        decoded = bytes.fromhex(compact)
    else:
        raise MalformedEvidence(
            f"{where} has encoding {quoted(encoding)}, not plain, base64 or hex"
        )
    try:
        return decoded.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise MalformedEvidence(f"{where} does not decode to UTF-8 text") from None

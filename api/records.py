"""Reading files of signed readings for the command line: S.A.F.E. XML exports, OCMF lines, NDJSON
(each line a JSON string or ``{"ocmf": …}``/``{"jws": …}``), or lines of compact JWS."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import orjson

from domain.errors import EvidenceError
from domain.ocmf import parse_transparency_xml


@dataclass(frozen=True)
class Record:
    """One record of an input file: where it is (``line 7`` or ``value 3``) and the reading, or
    why it could not even be read as one."""

    where: str
    reading: object | None
    problem: str | None = None


def read_records(data: bytes) -> Iterator[Record]:
    """Yield the records of a file of readings, in order, whatever its kind."""
    if data.lstrip().startswith(b"<"):
        try:
            values = parse_transparency_xml(data)
        except EvidenceError as exc:
            yield Record("file", None, f"not a readable OCMF XML export: {exc}")
            return
        for number, value in enumerate(values, 1):
            yield Record(f"value {number}", value.ocmf)
        return
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        yield Record("file", None, f"not UTF-8 text: {exc}")
        return
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(("{", '"', "[")):
            try:
                yield Record(f"line {number}", orjson.loads(line))
            except orjson.JSONDecodeError as exc:
                yield Record(f"line {number}", None, f"not valid JSON: {exc}")
            continue
        yield Record(f"line {number}", line)

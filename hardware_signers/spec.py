"""Signer specs: one string that names a key in a configuration file or on the command line.

Two forms:

- ``pem:PATH`` or ``pem:PATH?password-env=VAR``: a PKCS#8 PEM private key file, decrypted with the
  password in environment variable VAR. PATH is taken literally up to the first ``?``.
- An RFC 7512 PKCS#11 URI naming a private key by token and object label, e.g.
  ``pkcs11:token=meters;object=meter-17?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=1234``.
  Path attributes: ``token`` and ``object`` (both required), ``type`` (``private`` if given).
  Query attributes: ``module-path`` (required) and exactly one of ``pin-value``,
  ``pin-source=env:VAR`` or ``pin-source=file:/path`` (the file's text, less one final newline).
  Values are percent-decoded as UTF-8; an attribute may appear once. Attributes the URI scheme
  defines but carbonledger does not use (``id``, ``serial``, ``module-name``, vendor ``x-...``)
  are refused rather than ignored, so a URI never silently selects a different key than it names.

Parsing is total: :func:`parse_spec` either returns the whole spec or raises
:class:`InvalidSignerSpec` naming what was wrong, before any file, token or environment variable is
touched. PINs never appear in error messages or ``repr``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from hardware_signers.base import Algorithm, Signer
from hardware_signers.errors import SignerError
from hardware_signers.pkcs11 import Pkcs11Signer
from hardware_signers.software import SoftwareSigner, write_private_file


class InvalidSignerSpec(SignerError, ValueError):
    """A signer spec string is malformed, or names a PIN or password that cannot be found."""


@dataclass(frozen=True)
class PemKeySpec:
    """A private key in a PEM file, optionally encrypted with a password from the environment."""

    path: Path
    password_env: str | None = None


@dataclass(frozen=True)
class Pkcs11KeySpec:
    """A private key in a PKCS#11 token, from an RFC 7512 URI."""

    module_path: str
    token: str
    object: str
    pin_value: str | None = field(default=None, repr=False)
    pin_env: str | None = None
    pin_file: Path | None = None


_PEM_PREFIX = "pem:"
_PKCS11_SCHEME = "pkcs11"

# RFC 7512 §2.3: the characters allowed unencoded in path and query attribute values.
_UNRESERVED = "A-Za-z0-9\\-._~"
_PATH_VALUE = re.compile(rf"(?:[{_UNRESERVED}:\[\]@!$&'()*+,=]|%[0-9A-Fa-f]{{2}})*")
_QUERY_VALUE = re.compile(rf"(?:[{_UNRESERVED}:\[\]@!$'()*+,=/?|]|%[0-9A-Fa-f]{{2}})*")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

_PATH_ATTRIBUTES = frozenset(
    {
        "token",
        "manufacturer",
        "serial",
        "model",
        "library-manufacturer",
        "library-description",
        "library-version",
        "object",
        "type",
        "id",
        "slot-description",
        "slot-manufacturer",
        "slot-id",
    }
)
_QUERY_ATTRIBUTES = frozenset({"pin-source", "pin-value", "module-name", "module-path"})
_USED_PATH_ATTRIBUTES = frozenset({"token", "object", "type"})
_USED_QUERY_ATTRIBUTES = frozenset({"pin-source", "pin-value", "module-path"})


def parse_spec(spec: str) -> PemKeySpec | Pkcs11KeySpec:
    """Return the parsed form of a signer spec (``pem:...`` or ``pkcs11:...``) without opening
    anything; raise InvalidSignerSpec if it is malformed."""
    if not isinstance(spec, str):
        raise InvalidSignerSpec(f"a signer spec must be a string, not {type(spec).__name__}")
    if spec.startswith(_PEM_PREFIX):
        return _parse_pem(spec)
    scheme, colon, _ = spec.partition(":")
    if colon and scheme.lower() == _PKCS11_SCHEME:
        return _parse_pkcs11_uri(spec)
    shown = spec if len(spec) <= 40 and "pin" not in spec else spec[:12] + "..."
    raise InvalidSignerSpec(
        f"unknown signer spec {shown!r}: expected 'pem:/path/key.pem' or an RFC 7512 "
        "'pkcs11:token=...;object=...?module-path=...&pin-value=...' URI"
    )


def open_signer(spec: str) -> Signer:
    """Return the signer for an existing key named by ``spec``.

    A PKCS#11 signer opened this way owns its token session; call its ``close()`` when done.
    """
    parsed = parse_spec(spec)
    if isinstance(parsed, PemKeySpec):
        password = _pem_password(parsed)
        try:
            pem = parsed.path.read_bytes()
        except OSError as exc:
            raise SignerError(
                f"cannot read PEM key file {str(parsed.path)!r}: {exc.strerror}"
            ) from None
        return SoftwareSigner.from_pem(pem, password)
    return Pkcs11Signer.open(parsed.module_path, parsed.token, _pkcs11_pin(parsed), parsed.object)


def generate_signer(spec: str, algorithm: Algorithm) -> Signer:
    """Create a new ``algorithm`` key where ``spec`` says and return its signer.

    A PEM file is written with mode 0600 (encrypted if the spec names a password) and is never
    overwritten; a PKCS#11 key is generated inside the token under the object label, which must be
    free.
    """
    parsed = parse_spec(spec)
    if isinstance(parsed, PemKeySpec):
        password = _pem_password(parsed)
        signer = SoftwareSigner.generate(algorithm)
        try:
            write_private_file(parsed.path, signer.private_pem(password), overwrite=False)
        except FileExistsError:
            raise SignerError(
                f"PEM key file {str(parsed.path)!r} already exists; refusing to overwrite a key"
            ) from None
        except OSError as exc:
            raise SignerError(
                f"cannot write PEM key file {str(parsed.path)!r}: {exc.strerror}"
            ) from None
        return signer
    return Pkcs11Signer.generate(
        parsed.module_path, parsed.token, _pkcs11_pin(parsed), parsed.object, algorithm
    )


# -- pem: --------------------------------------------------------------------------------------


def _parse_pem(spec: str) -> PemKeySpec:
    path, question, query = spec[len(_PEM_PREFIX) :].partition("?")
    if not path:
        raise InvalidSignerSpec("pem: spec has no file path (expected 'pem:/path/key.pem')")
    password_env = None
    if question:
        for name, value in _split_query(query, "pem:"):
            if name != "password-env":
                raise InvalidSignerSpec(
                    f"pem: spec has unknown option {name!r} (only 'password-env' is known)"
                )
            if password_env is not None:
                raise InvalidSignerSpec("pem: spec gives 'password-env' more than once")
            if not _ENV_NAME.fullmatch(value):
                raise InvalidSignerSpec(
                    f"pem: spec 'password-env' must name an environment variable, got {value!r}"
                )
            password_env = value
    return PemKeySpec(path=Path(path), password_env=password_env)


def _pem_password(spec: PemKeySpec) -> bytes | None:
    if spec.password_env is None:
        return None
    password = os.environ.get(spec.password_env)
    if password is None:
        raise InvalidSignerSpec(
            f"environment variable {spec.password_env!r} named by 'password-env' is not set"
        )
    return password.encode("utf-8")


def _split_query(query: str, what: str) -> list[tuple[str, str]]:
    pairs = []
    for item in query.split("&"):
        name, equals, value = item.partition("=")
        if not equals or not name:
            raise InvalidSignerSpec(f"{what} spec option {item!r} is not 'name=value'")
        pairs.append((name, value))
    return pairs


# -- pkcs11: (RFC 7512) ------------------------------------------------------------------------


def _parse_pkcs11_uri(uri: str) -> Pkcs11KeySpec:
    body = uri.partition(":")[2]
    path, _, query = body.partition("?")
    attributes = _uri_attributes(path, ";", _PATH_ATTRIBUTES, _PATH_VALUE, "path")
    queries = _uri_attributes(query, "&", _QUERY_ATTRIBUTES, _QUERY_VALUE, "query")

    for name in attributes:
        if name not in _USED_PATH_ATTRIBUTES:
            raise InvalidSignerSpec(
                f"PKCS#11 URI path attribute {name!r} is not supported; name the key with "
                "'token' and 'object'"
            )
    for name in queries:
        if name not in _USED_QUERY_ATTRIBUTES:
            raise InvalidSignerSpec(
                f"PKCS#11 URI query attribute {name!r} is not supported; give 'module-path'"
            )
    for required in ("token", "object"):
        if not attributes.get(required):
            raise InvalidSignerSpec(f"PKCS#11 URI has no {required!r} path attribute")
    if attributes.get("type", "private") != "private":
        raise InvalidSignerSpec(
            f"PKCS#11 URI 'type' must be 'private' for a signing key, got {attributes['type']!r}"
        )
    module_path = queries.get("module-path")
    if not module_path:
        raise InvalidSignerSpec("PKCS#11 URI has no 'module-path' query attribute")

    pin_value = queries.get("pin-value")
    pin_source = queries.get("pin-source")
    if pin_value is not None and pin_source is not None:
        raise InvalidSignerSpec("PKCS#11 URI gives both 'pin-value' and 'pin-source'; give one")
    if pin_value is None and pin_source is None:
        raise InvalidSignerSpec("PKCS#11 URI gives no PIN ('pin-value' or 'pin-source')")
    pin_env = pin_file = None
    if pin_source is not None:
        pin_env, pin_file = _parse_pin_source(pin_source)
    return Pkcs11KeySpec(
        module_path=module_path,
        token=attributes["token"],
        object=attributes["object"],
        pin_value=pin_value,
        pin_env=pin_env,
        pin_file=pin_file,
    )


def _uri_attributes(
    text: str, separator: str, known: frozenset[str], allowed: re.Pattern[str], part: str
) -> dict[str, str]:
    attributes: dict[str, str] = {}
    if not text:
        return attributes
    for item in text.split(separator):
        raw_name, equals, raw_value = item.partition("=")
        name = raw_name.lower()
        if not equals:
            raise InvalidSignerSpec(f"PKCS#11 URI {part} attribute {raw_name!r} has no '='")
        if name not in known and not name.startswith("x-"):
            raise InvalidSignerSpec(f"PKCS#11 URI has unknown {part} attribute {raw_name!r}")
        if name.startswith("x-"):
            raise InvalidSignerSpec(
                f"PKCS#11 URI vendor {part} attribute {raw_name!r} is not supported"
            )
        if name in attributes:
            raise InvalidSignerSpec(f"PKCS#11 URI gives {part} attribute {name!r} more than once")
        if not allowed.fullmatch(raw_value):
            shown = "(hidden)" if name == "pin-value" else repr(raw_value)
            raise InvalidSignerSpec(
                f"PKCS#11 URI {part} attribute {name!r} has a value {shown} with characters "
                "that must be percent-encoded, or a bad %XX escape"
            )
        attributes[name] = _percent_decode(raw_value, name)
    return attributes


def _percent_decode(value: str, name: str) -> str:
    """Decode %XX escapes to bytes and the whole value as UTF-8 (RFC 7512 §2.3)."""
    out = bytearray()
    position = 0
    while position < len(value):
        char = value[position]
        if char == "%":
            out.append(int(value[position + 1 : position + 3], 16))
            position += 3
        else:
            out += char.encode("ascii")
            position += 1
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidSignerSpec(
            f"PKCS#11 URI attribute {name!r} does not decode to UTF-8 text"
        ) from None


def _parse_pin_source(source: str) -> tuple[str | None, Path | None]:
    if source.startswith("env:"):
        name = source[len("env:") :]
        if not _ENV_NAME.fullmatch(name):
            raise InvalidSignerSpec(
                f"PKCS#11 URI 'pin-source=env:' must name an environment variable, got {name!r}"
            )
        return name, None
    if source.startswith("file:"):
        path = source[len("file:") :]
        if path.startswith("//"):
            # file:///abs/path (empty authority) or file://localhost/abs/path.
            authority, slash, rest = path[2:].partition("/")
            if authority not in ("", "localhost") or not slash:
                raise InvalidSignerSpec(
                    f"PKCS#11 URI 'pin-source' file URI must be local, got {source!r}"
                )
            path = "/" + rest
        if not path:
            raise InvalidSignerSpec("PKCS#11 URI 'pin-source=file:' has no path")
        return None, Path(path)
    raise InvalidSignerSpec(
        f"PKCS#11 URI 'pin-source' must be 'env:VAR' or 'file:/path', got {source!r}"
    )


def _pkcs11_pin(spec: Pkcs11KeySpec) -> str:
    if spec.pin_value is not None:
        return spec.pin_value
    if spec.pin_env is not None:
        pin = os.environ.get(spec.pin_env)
        if pin is None:
            raise InvalidSignerSpec(
                f"environment variable {spec.pin_env!r} named by 'pin-source' is not set"
            )
        return pin
    assert spec.pin_file is not None
    try:
        text = spec.pin_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise InvalidSignerSpec(
            f"cannot read the PIN file {str(spec.pin_file)!r} named by 'pin-source': {reason}"
        ) from None
    return text.removesuffix("\n").removesuffix("\r")

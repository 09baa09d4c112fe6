"""PKCS#11 signers: keys generated and held inside an HSM (SoftHSM2 in tests), reached through
python-pkcs11.

Follows PKCS#11 v2.40 / v3.0 for the objects and mechanisms used:

- Ed25519: CKK_EC_EDWARDS keys from CKM_EC_EDWARDS_KEY_PAIR_GEN with CKA_EC_PARAMS naming
  edwards25519; signatures from CKM_EDDSA without parameters (pure Ed25519, RFC 8032).
- ECDSA P-256 / P-384: CKK_EC keys from CKM_EC_KEY_PAIR_GEN; the message is hashed here with
  SHA-256 / SHA-384 and the digest signed with CKM_ECDSA, which every HSM offers and which sends
  only the digest to the device. PKCS#11 returns raw ``r || s``; we return DER like every signer.
- The public key comes from the public key object's CKA_EC_POINT (a DER OCTET STRING around the
  point, as the standard says; a few modules return the bare point and both are accepted).

Three facts about PKCS#11 shape this module:

- A module may be loaded and initialised once per process: libraries are cached per module path.
- Login state belongs to the application, not the session: every session of the process on a token
  is logged in once one is, and a logout through any session logs all of them out. So each token
  is logged in once, by a session kept only for that, counted by the :class:`Pkcs11Token` objects
  that use it, and logged out when the last one closes. A second ``open`` with a different PIN is
  refused (the token cannot check it again while logged in).
- python-pkcs11 (0.10) initialises modules with ``C_Initialize(NULL)``, which tells the module
  that the application will never call it from two threads at once; SoftHSM2 then takes no locks
  of its own, and two sessions signing in parallel corrupt its heap (measured: segfaults). A lock
  per session is therefore not enough: every call into a module takes that module's lock. Signers
  are safe to share between threads; they sign one at a time per module.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, TypeVar

import pkcs11
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from pkcs11 import Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass
from pkcs11 import exceptions as pkcs11_errors

from hardware_signers.base import ECDSA_CURVES, Algorithm, PublicKeyInfo, spki_key_id
from hardware_signers.errors import (
    InvalidKey,
    KeyNotFound,
    ModuleNotFound,
    SignerError,
    TokenNotFound,
    UnsupportedAlgorithm,
    WrongPin,
)
from hardware_signers.verify import ecdsa_raw_to_der

# DER of CKA_EC_PARAMS per algorithm. Ed25519 may be named by OID (id-Ed25519, 1.3.101.112, what
# we write) or by the PrintableString "edwards25519" (what SoftHSM2 stores and returns).
_EC_PARAMS_WRITTEN: dict[Algorithm, bytes] = {
    Algorithm.ED25519: bytes.fromhex("06032b6570"),
    Algorithm.ECDSA_P256: bytes.fromhex("06082a8648ce3d030107"),
    Algorithm.ECDSA_P384: bytes.fromhex("06052b81040022"),
}
_ALGORITHM_BY_EC_PARAMS: dict[bytes, Algorithm] = {
    **{params: algorithm for algorithm, params in _EC_PARAMS_WRITTEN.items()},
    b"\x13\x0cedwards25519": Algorithm.ED25519,
}
_KEY_TYPES: dict[Algorithm, KeyType] = {
    Algorithm.ED25519: KeyType.EC_EDWARDS,
    Algorithm.ECDSA_P256: KeyType.EC,
    Algorithm.ECDSA_P384: KeyType.EC,
}
_GENERATE_MECHANISMS: dict[Algorithm, Mechanism] = {
    Algorithm.ED25519: Mechanism.EC_EDWARDS_KEY_PAIR_GEN,
    Algorithm.ECDSA_P256: Mechanism.EC_KEY_PAIR_GEN,
    Algorithm.ECDSA_P384: Mechanism.EC_KEY_PAIR_GEN,
}
_SIGN_MECHANISMS: dict[Algorithm, Mechanism] = {
    Algorithm.ED25519: Mechanism.EDDSA,
    Algorithm.ECDSA_P256: Mechanism.ECDSA,
    Algorithm.ECDSA_P384: Mechanism.ECDSA,
}
_DIGESTS: dict[Algorithm, Callable[[bytes], Any]] = {
    Algorithm.ECDSA_P256: hashlib.sha256,
    Algorithm.ECDSA_P384: hashlib.sha384,
}
_RAW_PUBLIC_KEY_BYTES: dict[Algorithm, int] = {
    Algorithm.ED25519: 32,
    Algorithm.ECDSA_P256: 65,
    Algorithm.ECDSA_P384: 97,
}
_PIN_ERRORS = (
    pkcs11_errors.PinIncorrect,
    pkcs11_errors.PinInvalid,
    pkcs11_errors.PinLenRange,
    pkcs11_errors.PinExpired,
    pkcs11_errors.PinLocked,
)


# -- modules and logins: process-wide, because PKCS#11 state is process-wide ------------------


@dataclass
class _Login:
    """One application login on one token: the session that holds it and who uses it."""

    session: Any
    pin_mac: bytes
    users: int


@dataclass(eq=False)
class _Module:
    """A loaded PKCS#11 module, the lock that every call into it takes, and its logins by slot."""

    path: str
    library: Any
    lock: threading.RLock = field(default_factory=threading.RLock)
    logins: dict[int, _Login] = field(default_factory=dict)


_modules: dict[str, _Module] = {}
_modules_lock = threading.Lock()
# Key for remembering PINs as MACs rather than in the clear.
_PIN_MAC_KEY = secrets.token_bytes(32)


def _load_module(path: str) -> _Module:
    """Return the loaded and initialised PKCS#11 module at ``path``, loading it on first use."""
    with _modules_lock:
        module = _modules.get(path)
        if module is None:
            if not os.path.isfile(path):
                raise ModuleNotFound(f"PKCS#11 module {path!r} does not exist or is not a file")
            try:
                # pkcs11.lib keeps its own per-path singleton; the lock stops two threads from
                # loading and initialising the same module at once.
                library = pkcs11.lib(path)
            except pkcs11_errors.PKCS11Error as exc:
                raise ModuleNotFound(f"PKCS#11 module {path!r} did not load: {exc}") from None
            module = _modules[path] = _Module(path=path, library=library)
        return module


def _pin_mac(pin: str) -> bytes:
    return hmac.new(_PIN_MAC_KEY, pin.encode("utf-8"), hashlib.sha256).digest()


def _log_in(module: _Module, token: Any, pin: str) -> int:
    """Make sure the process is logged in to ``token`` with ``pin``; return the slot id, to pass
    to :func:`_log_out` once."""
    slot_id: int = token.slot.slot_id
    with module.lock:
        login = module.logins.get(slot_id)
        if login is not None:
            if not hmac.compare_digest(login.pin_mac, _pin_mac(pin)):
                raise WrongPin(f"token {token.label!r} refused the PIN")
            login.users += 1
            return slot_id
        try:
            session = token.open(user_pin=pin)
        except _PIN_ERRORS as exc:
            detail = "" if isinstance(exc, pkcs11_errors.PinIncorrect) else f" ({_name(exc)})"
            raise WrongPin(f"token {token.label!r} refused the PIN{detail}") from None
        except pkcs11_errors.UserAlreadyLoggedIn:
            raise SignerError(
                f"token {token.label!r} is already logged in by other code in this process; "
                "open it only through hardware_signers.pkcs11"
            ) from None
        except pkcs11_errors.PKCS11Error as exc:
            raise SignerError(f"could not log in to token {token.label!r}: {_name(exc)}") from None
        module.logins[slot_id] = _Login(session=session, pin_mac=_pin_mac(pin), users=1)
        return slot_id


def _log_out(module: _Module, slot_id: int) -> None:
    with module.lock:
        login = module.logins[slot_id]
        login.users -= 1
        if login.users:
            return
        del module.logins[slot_id]
        # If the token went away there is nothing left to log out of.
        with contextlib.suppress(pkcs11_errors.PKCS11Error):
            login.session.close()


# -- tokens ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyProtection:
    """What the token says about a private key: whether it can ever leave the token in the clear.

    A key generated in the token and never exportable has ``local``, ``always_sensitive`` and
    ``never_extractable`` true and ``extractable`` false.
    """

    token: bool
    private: bool
    sensitive: bool
    extractable: bool
    always_sensitive: bool
    never_extractable: bool
    local: bool

    @property
    def hardware_bound(self) -> bool:
        """True if the key was generated in the token and has never been extractable."""
        return (
            self.token
            and self.private
            and self.sensitive
            and not self.extractable
            and self.always_sensitive
            and self.never_extractable
            and self.local
        )


class Pkcs11Token:
    """A logged-in PKCS#11 token: finds and generates signing keys. Close it (or use ``with``) to
    close its sessions, which ends every signer it made."""

    def __init__(self, module: _Module, token: Any, slot_id: int) -> None:
        """Use :meth:`open`; expects the process to be logged in to ``token`` for this object."""
        self._module = module
        self._token = token
        self._slot_id = slot_id
        self._open = True
        self._signers: list[Pkcs11Signer] = []
        self.label: str = token.label
        with module.lock:
            try:
                self._session = token.open(rw=True)
                self._mechanisms = frozenset(token.slot.get_mechanisms())
            except pkcs11_errors.PKCS11Error as exc:
                _log_out(module, slot_id)
                raise SignerError(
                    f"could not open a session on token {token.label!r}: {_name(exc)}"
                ) from None

    @classmethod
    def open(cls, module: str, token_label: str, pin: str) -> Pkcs11Token:
        """Load ``module``, find the token labelled ``token_label`` and log in with ``pin``.

        Raises ModuleNotFound, TokenNotFound (listing the labels present) or WrongPin.
        """
        loaded = _load_module(module)
        with loaded.lock:
            try:
                tokens = list(loaded.library.get_tokens())
            except pkcs11_errors.PKCS11Error as exc:
                raise SignerError(
                    f"PKCS#11 module {module!r} could not list tokens: {_name(exc)}"
                ) from None
            matching = [token for token in tokens if token.label == token_label]
            if not matching:
                present = sorted(token.label for token in tokens if token.label)
                raise TokenNotFound(
                    f"no token labelled {token_label!r} in PKCS#11 module {module!r}; "
                    f"tokens present: {', '.join(repr(label) for label in present) or 'none'}"
                )
            if len(matching) > 1:
                raise SignerError(
                    f"{len(matching)} tokens are labelled {token_label!r} in PKCS#11 module "
                    f"{module!r}; give each token a distinct label"
                )
            token = matching[0]
            return cls(loaded, token, _log_in(loaded, token, pin))

    def __enter__(self) -> Pkcs11Token:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the token's sessions and every signer made from it; idempotent."""
        with self._module.lock:
            if not self._open:
                return
            self._open = False
            signers, self._signers = self._signers, []
            for signer in signers:
                signer._close_session()
            with contextlib.suppress(pkcs11_errors.PKCS11Error):
                self._session.close()  # fails only if the token, and the session, are gone
            _log_out(self._module, self._slot_id)

    @property
    def module(self) -> str:
        """The path of the PKCS#11 module the token was opened through."""
        return self._module.path

    def labels(self) -> list[str]:
        """Return the labels of the private keys on the token, sorted, each once."""
        with self._module.lock:
            self._check_open()
            try:
                keys = list(self._session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY}))
                return sorted({key.label for key in keys if key.label})
            except pkcs11_errors.PKCS11Error as exc:
                raise SignerError(
                    f"could not list keys on token {self.label!r}: {_name(exc)}"
                ) from None

    def generate_key(self, label: str, algorithm: Algorithm) -> Pkcs11Signer:
        """Generate a key pair for ``algorithm`` inside the token, labelled ``label``, and return
        its signer. The private key is a token object that is private, sensitive and never
        extractable; the public key is a token object any session may read.

        Raises UnsupportedAlgorithm if the token lacks the mechanisms, SignerError if ``label`` is
        taken.
        """
        algorithm = _as_algorithm(algorithm)
        self._require_mechanisms(algorithm)
        if not label:
            raise SignerError("a key label must not be empty")
        with self._module.lock:
            self._check_open()
            session = self._session
            existing = _find(session, label, ObjectClass.PRIVATE_KEY) + _find(
                session, label, ObjectClass.PUBLIC_KEY
            )
            if existing:
                raise SignerError(f"token {self.label!r} already holds a key labelled {label!r}")
            try:
                public, private = session.generate_keypair(
                    _KEY_TYPES[algorithm],
                    # Tools such as pkcs11-tool pair keys by CKA_ID; we find them by label.
                    id=secrets.token_bytes(16),
                    label=label,
                    store=True,
                    capabilities=MechanismFlag.SIGN | MechanismFlag.VERIFY,
                    mechanism=_GENERATE_MECHANISMS[algorithm],
                    public_template={
                        Attribute.EC_PARAMS: _EC_PARAMS_WRITTEN[algorithm],
                        Attribute.PRIVATE: False,
                        Attribute.VERIFY: True,
                    },
                    private_template={
                        Attribute.PRIVATE: True,
                        Attribute.SENSITIVE: True,
                        Attribute.EXTRACTABLE: False,
                        Attribute.SIGN: True,
                        Attribute.DERIVE: False,
                    },
                )
            except (pkcs11_errors.MechanismInvalid, pkcs11_errors.DomainParamsInvalid) as exc:
                raise UnsupportedAlgorithm(
                    f"token {self.label!r} cannot generate {algorithm.value} keys: {_name(exc)}"
                ) from None
            except pkcs11_errors.PKCS11Error as exc:
                raise SignerError(
                    f"token {self.label!r} failed to generate {algorithm.value} key "
                    f"{label!r}: {_name(exc)}"
                ) from None
            # Trust, but check: a module that ignored the template must not leave us with a key
            # that can be exported.
            protection = _key_protection(private)
            if protection.extractable or not protection.sensitive:
                for handle in (private, public):
                    handle.destroy()
                raise SignerError(
                    f"token {self.label!r} made key {label!r} extractable or not sensitive "
                    "despite the template; the key was destroyed"
                )
            return self.signer(label)

    def signer(self, label: str) -> Pkcs11Signer:
        """Return the signer for the key pair labelled ``label`` on this token.

        Raises KeyNotFound if there is no such private or public key, UnsupportedAlgorithm if the
        key is not Ed25519, P-256 or P-384 or the token lacks the signing mechanism.
        """
        with self._module.lock:
            self._check_open()
            try:
                session = self._token.open()
            except pkcs11_errors.PKCS11Error as exc:
                raise SignerError(
                    f"could not open a session on token {self.label!r}: {_name(exc)}"
                ) from None
            try:
                signer = self._make_signer(session, label)
            except BaseException:
                _close_quietly(session)
                raise
            self._signers.append(signer)
            return signer

    def _make_signer(self, session: Any, label: str) -> Pkcs11Signer:
        privates = _find(session, label, ObjectClass.PRIVATE_KEY)
        if not privates:
            raise KeyNotFound(f"token {self.label!r} holds no private key labelled {label!r}")
        if len(privates) > 1:
            raise SignerError(
                f"token {self.label!r} holds {len(privates)} private keys labelled {label!r}"
            )
        private = privates[0]
        publics = _find(session, label, ObjectClass.PUBLIC_KEY)
        if len(publics) != 1:
            # Fall back to the pairing by CKA_ID that other PKCS#11 tools use.
            object_id = _attribute(private, Attribute.ID, default=b"")
            if object_id:
                publics = list(
                    session.get_objects(
                        {Attribute.CLASS: ObjectClass.PUBLIC_KEY, Attribute.ID: object_id}
                    )
                )
        if len(publics) != 1:
            raise KeyNotFound(
                f"token {self.label!r} holds {len(publics)} public keys for private key "
                f"{label!r}; exactly one is needed to know the public key"
            )
        public = publics[0]
        algorithm = _algorithm_of(public, self.label, label)
        self._require_mechanisms(algorithm, generate=False)
        public_key_raw = _public_key_raw(public, algorithm, self.label, label)
        return Pkcs11Signer(
            token=self,
            session=session,
            private_key=private,
            label=label,
            algorithm=algorithm,
            public_key_raw=public_key_raw,
        )

    def _require_mechanisms(self, algorithm: Algorithm, *, generate: bool = True) -> None:
        needed = [_SIGN_MECHANISMS[algorithm]]
        if generate:
            needed.insert(0, _GENERATE_MECHANISMS[algorithm])
        for mechanism in needed:
            if mechanism not in self._mechanisms:
                raise UnsupportedAlgorithm(
                    f"token {self.label!r} does not support CKM_{mechanism.name}, "
                    f"needed for {algorithm.value}"
                )

    def _forget(self, signer: Pkcs11Signer) -> None:
        with self._module.lock:
            if signer in self._signers:
                self._signers.remove(signer)

    def _check_open(self) -> None:
        if not self._open:
            raise SignerError(f"token {self.label!r} is closed")

    def __repr__(self) -> str:
        state = "open" if self._open else "closed"
        return f"Pkcs11Token(label={self.label!r}, module={self._module.path!r}, {state})"


# -- signers -----------------------------------------------------------------------------------


class Pkcs11Signer(PublicKeyInfo):
    """A private key held in a PKCS#11 token, with a session of its own to sign through.

    Safe to share between threads: signing takes the module's lock (see the module docstring).
    """

    def __init__(
        self,
        *,
        token: Pkcs11Token,
        session: Any,
        private_key: Any,
        label: str,
        algorithm: Algorithm,
        public_key_raw: bytes,
    ) -> None:
        """Use :meth:`Pkcs11Token.signer`, :meth:`Pkcs11Token.generate_key` or :meth:`open`."""
        self._token = token
        self._session: Any | None = session
        self._private_key = private_key
        self._lock = token._module.lock
        self._owns_token = False
        self.label = label
        self._algorithm = algorithm
        self._public_key_raw = public_key_raw
        self._public_key_spki = _spki(algorithm, public_key_raw)
        self._key_id = spki_key_id(self._public_key_spki)
        self._mechanism = _SIGN_MECHANISMS[algorithm]
        self._digest = _DIGESTS.get(algorithm)

    @classmethod
    def open(cls, module: str, token_label: str, pin: str, key_label: str) -> Pkcs11Signer:
        """Open the token and return the signer for ``key_label``; closing the signer closes the
        token."""
        token = Pkcs11Token.open(module, token_label, pin)
        try:
            signer = token.signer(key_label)
        except BaseException:
            token.close()
            raise
        signer._owns_token = True
        return signer

    @classmethod
    def generate(
        cls, module: str, token_label: str, pin: str, key_label: str, algorithm: Algorithm
    ) -> Pkcs11Signer:
        """Open the token, generate a key labelled ``key_label`` in it and return its signer;
        closing the signer closes the token."""
        token = Pkcs11Token.open(module, token_label, pin)
        try:
            signer = token.generate_key(key_label, algorithm)
        except BaseException:
            token.close()
            raise
        signer._owns_token = True
        return signer

    @property
    def token(self) -> Pkcs11Token:
        return self._token

    def sign(self, message: bytes) -> bytes:
        """Return the token's signature of ``message``: 64 bytes for Ed25519, DER for ECDSA."""
        message = bytes(message)
        # Hash outside the lock: only the digest goes to the token.
        data = message if self._digest is None else self._digest(message).digest()
        with self._lock:
            if self._session is None:
                raise SignerError(f"signer for key {self.label!r} is closed")
            try:
                signature = bytes(self._private_key.sign(data, mechanism=self._mechanism))
            except pkcs11_errors.PKCS11Error as exc:
                raise SignerError(
                    f"token {self._token.label!r} failed to sign with key {self.label!r}: "
                    f"{_name(exc)}"
                ) from None
        if self._digest is None:
            return signature
        return ecdsa_raw_to_der(signature)

    def key_protection(self) -> KeyProtection:
        """Return what the token reports about whether the private key can leave it."""
        with self._lock:
            if self._session is None:
                raise SignerError(f"signer for key {self.label!r} is closed")
            return _key_protection(self._private_key)

    def close(self) -> None:
        """End the signer's session (and its token, if the signer opened it); idempotent."""
        if self._owns_token:
            self._token.close()
            return
        self._close_session()
        self._token._forget(self)

    def __enter__(self) -> Pkcs11Signer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _close_session(self) -> None:
        with self._lock:
            session, self._session = self._session, None
            if session is not None:
                _close_quietly(session)

    def __repr__(self) -> str:
        return (
            f"Pkcs11Signer(token={self._token.label!r}, label={self.label!r}, "
            f"algorithm={self._algorithm.value}, key_id={self._key_id[:16]}...)"
        )


# -- object attributes -------------------------------------------------------------------------


def _find(session: Any, label: str, object_class: ObjectClass) -> list[Any]:
    return list(session.get_objects({Attribute.CLASS: object_class, Attribute.LABEL: label}))


_T = TypeVar("_T")


def _attribute(obj: Any, attribute: Attribute, default: _T) -> Any | _T:
    try:
        return obj[attribute]
    except (pkcs11_errors.AttributeTypeInvalid, pkcs11_errors.AttributeSensitive):
        return default


def _key_protection(private_key: Any) -> KeyProtection:
    def flag(attribute: Attribute) -> bool:
        return bool(_attribute(private_key, attribute, default=False))

    return KeyProtection(
        token=flag(Attribute.TOKEN),
        private=flag(Attribute.PRIVATE),
        sensitive=flag(Attribute.SENSITIVE),
        # A module that does not report CKA_EXTRACTABLE is assumed to allow extraction.
        extractable=bool(_attribute(private_key, Attribute.EXTRACTABLE, default=True)),
        always_sensitive=flag(Attribute.ALWAYS_SENSITIVE),
        never_extractable=flag(Attribute.NEVER_EXTRACTABLE),
        local=flag(Attribute.LOCAL),
    )


def _algorithm_of(public: Any, token_label: str, label: str) -> Algorithm:
    key_type = _attribute(public, Attribute.KEY_TYPE, default=None)
    params = bytes(_attribute(public, Attribute.EC_PARAMS, default=b""))
    algorithm = _ALGORITHM_BY_EC_PARAMS.get(params)
    if key_type not in (KeyType.EC, KeyType.EC_EDWARDS) or algorithm is None:
        kind = key_type.name if isinstance(key_type, KeyType) else repr(key_type)
        raise UnsupportedAlgorithm(
            f"key {label!r} on token {token_label!r} is a {kind} key with EC parameters "
            f"{params.hex() or 'none'}; only Ed25519, P-256 and P-384 are supported"
        )
    if _KEY_TYPES[algorithm] is not key_type:
        raise InvalidKey(
            f"key {label!r} on token {token_label!r} has key type {key_type.name} but the "
            f"parameters of {algorithm.value}"
        )
    return algorithm


def _public_key_raw(public: Any, algorithm: Algorithm, token_label: str, label: str) -> bytes:
    """Return the raw public key from CKA_EC_POINT, unwrapping the DER OCTET STRING."""
    point = bytes(_attribute(public, Attribute.EC_POINT, default=b""))
    size = _RAW_PUBLIC_KEY_BYTES[algorithm]
    # Lengths tell the two forms apart: a raw uncompressed point also starts with 0x04, but the
    # DER OCTET STRING around a point of ``size`` bytes is 0x04, one length byte, then the point.
    if len(point) == size + 2 and point[0] == 0x04 and point[1] == size:
        return point[2:]
    if len(point) == size:
        return point
    raise InvalidKey(
        f"public key {label!r} on token {token_label!r} has a CKA_EC_POINT of {len(point)} "
        f"bytes, not a {algorithm.value} point"
    )


def _spki(algorithm: Algorithm, public_key_raw: bytes) -> bytes:
    try:
        if algorithm is Algorithm.ED25519:
            key: Any = ed25519.Ed25519PublicKey.from_public_bytes(public_key_raw)
        else:
            key = ec.EllipticCurvePublicKey.from_encoded_point(
                ECDSA_CURVES[algorithm], public_key_raw
            )
    except ValueError as exc:
        raise InvalidKey(f"the token's {algorithm.value} public key is not valid: {exc}") from None
    return key.public_bytes(  # type: ignore[no-any-return]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _close_quietly(session: Any) -> None:
    with contextlib.suppress(pkcs11_errors.PKCS11Error):
        session.close()  # fails only if the token or session is already gone


def _name(exc: BaseException) -> str:
    """python-pkcs11 errors mostly carry no message; their class names the CKR_ code."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _as_algorithm(algorithm: Algorithm | str) -> Algorithm:
    try:
        return Algorithm(algorithm)
    except ValueError:
        supported = ", ".join(a.value for a in Algorithm)
        raise UnsupportedAlgorithm(
            f"algorithm {algorithm!r} is not supported (use one of: {supported})"
        ) from None

"""The log's key in an HSM: a real SoftHSM2 token signs notes, checkpoints and cosignatures, and a
ledger can be created and reopened with its log key addressed by an RFC 7512 PKCS#11 URI."""

from __future__ import annotations

from pathlib import Path

import pytest

from hardware_signers.base import Algorithm
from hardware_signers.spec import generate_signer
from ledger.checkpoint import Checkpoint, Cosigner, open_checkpoint, verify_cosignature
from ledger.ledger import Ledger
from ledger.merkle import EMPTY_ROOT
from ledger.note import NoteSigner, open_note
from ledger.store import NewEvent
from tests.conftest import SoftHSMToken

pytestmark = pytest.mark.softhsm


def uri(token: SoftHSMToken, label: str) -> str:
    return (
        f"pkcs11:token={token.label};object={label}?module-path={token.module}"
        f"&pin-value={token.pin}"
    )


def test_note_and_cosignature_with_hsm_keys(softhsm_token: SoftHSMToken) -> None:
    signer = generate_signer(uri(softhsm_token, "note-key"), Algorithm.ED25519)
    witness_key = generate_signer(uri(softhsm_token, "witness-key"), Algorithm.ED25519)
    try:
        note_signer = NoteSigner("hsm.example/log", signer)
        note = note_signer.sign("hello from an HSM\n")
        opened = open_note(note, [note_signer.verifier_key])
        assert opened.text == "hello from an HSM\n"
        checkpoint = Checkpoint(origin="hsm.example/log", size=0, root_hash=EMPTY_ROOT)
        cosigner = Cosigner("witness.example", witness_key)
        line = cosigner.cosign(checkpoint, timestamp=1_780_000_000)
        assert verify_cosignature(cosigner.verifier_key, checkpoint, line) == 1_780_000_000
    finally:
        signer.close()  # type: ignore[attr-defined]
        witness_key.close()  # type: ignore[attr-defined]


def test_ledger_with_its_log_key_in_an_hsm(softhsm_token: SoftHSMToken, tmp_path: Path) -> None:
    key_uri = uri(softhsm_token, "ledger-log-key")
    generate_signer(key_uri, Algorithm.ED25519).close()  # type: ignore[attr-defined]
    ledger = Ledger.init(tmp_path / "data", origin="hsm.example/ledger", log_key=key_uri)
    try:
        ledger.store.append([NewEvent(f"s-{i % 3}", "t", {"n": i}) for i in range(40)])
        ledger.log.integrate_all()
        signed = ledger.log.sign_checkpoint(force=True)
        assert signed is not None
        vkey = ledger.verifier_key
    finally:
        ledger.close()
    reopened = Ledger.open(tmp_path / "data")
    try:
        assert reopened.verifier_key == vkey
        opened = open_checkpoint(reopened.log.latest_checkpoint().note, vkey)
        assert opened.checkpoint.size == 40
        reopened.store.append([NewEvent("s-9", "t", {"n": 99})])
        reopened.log.integrate_all()
        second = reopened.log.sign_checkpoint(force=True)
        assert open_checkpoint(second.note, vkey).checkpoint.size == 41
    finally:
        reopened.close()

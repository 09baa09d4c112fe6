"""Throughput of carbonledger's cryptography, each figure beside a raw baseline from the same run.

Measures RFC 6962 leaf hashing against bare hashlib, inclusion and consistency proof verification
against the SHA-256 rate their hash count implies, signing with software and SoftHSM2 keys,
verification on one and two threads, and checkpoint notes signed and opened.

Run from the repository root::

    .venv/bin/python -m benchmarks.bench_crypto [--quick]

Each measurement runs a fixed number of iterations, split into ROUNDS rounds after one warm-up
round, and sized to take about a second on an idle 2-core 2.5 GHz Xeon (a tenth with --quick). A
figure and its baseline take turns round by round, so that load from other processes falls on both,
and each reports its best round. Figures are operations per second of wall-clock time; the ratio is
figure / baseline, so below 1 means slower than the baseline. Nothing here asserts anything about
time.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import platform
import random
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from importlib.metadata import version
from itertools import cycle, islice
from pathlib import Path
from time import perf_counter
from typing import TypeVar

import nacl.bindings
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from hardware_signers.base import Algorithm
from hardware_signers.pkcs11 import Pkcs11Token
from hardware_signers.software import SoftwareSigner
from hardware_signers.verify import verify_ecdsa, verify_ed25519
from ledger.checkpoint import Checkpoint, CheckpointSigner, open_checkpoint
from ledger.entry import ENTRY_FORMAT, Entry, b64, encode_entry, format_time
from ledger.merkle import (
    MemoryHashStore,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    tree_hash_from_reader,
    verify_consistency,
    verify_inclusion,
)
from ledger.note import NoteSigner

T = TypeVar("T")

FULL_TREE_SIZE = 1_000_000
QUICK_TREE_SIZE = 100_000
# A MemoryHashStore of n leaves holds about 2n hashes as Python bytes objects: the process peaked
# at 208 MiB for 1M leaves. Below twice that much free memory the benchmark uses the smaller tree.
TREE_BYTES_PER_LEAF = 440

ENTRY_COUNT = 4096  # distinct entries cycled through by the hashing measurements
PROOF_COUNT = 1000  # distinct proofs cycled through by the proof measurements

SOFTHSM_MODULES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
)
SOFTHSM_LABEL = "bench"
SOFTHSM_PIN = "1234"
SOFTHSM_SO_PIN = "5678"

# Iterations per measurement in a full run: with the warm-up round, about a second each on the
# reference machine when it is otherwise idle.
FULL_ITERATIONS = {
    "leaf": 320_000,
    "node": 640_000,
    "inclusion": 20_000,
    "consistency": 16_000,
    "sign-ed25519": 28_000,
    "sign-ed25519-openssl": 16_000,
    "sign-p256": 24_000,
    "sign-hsm-ed25519": 2_400,
    "sign-hsm-p256": 6_400,
    "verify-ed25519": 10_000,
    "verify-ed25519-openssl": 5_000,
    "verify-p256": 6_400,
    "checkpoint-sign": 22_000,
    "checkpoint-open": 5_000,
    "control": 240,
}
QUICK_DIVISOR = 10
# Each measurement's iterations are split into this many rounds; the best round counts.
ROUNDS = 10


@dataclass(frozen=True)
class Row:
    """One line of the result table: a figure in operations per second beside its baseline."""

    label: str
    rate: float
    baseline_label: str = ""
    baseline_rate: float | None = None

    @property
    def ratio(self) -> float | None:
        return None if self.baseline_rate is None else self.rate / self.baseline_rate


@dataclass(frozen=True)
class Section:
    """A titled group of rows, with notes printed under it."""

    title: str
    rows: list[Row]
    notes: list[str]


# -- timing ------------------------------------------------------------------------------------

Round = Callable[[], float]
"""One timed pass of a measurement, returning operations per second."""


def repeat_to(items: Sequence[T], count: int) -> list[T]:
    """Return count items taken from items in order, starting again from the first as needed."""
    return list(islice(cycle(items), count))


def loop_round(operation: Callable[[T], object], items: Sequence[T]) -> Round:
    """Return a round that calls operation once per item on this thread."""

    def run() -> float:
        start = perf_counter()
        for item in items:
            operation(item)
        return len(items) / (perf_counter() - start)

    return run


def threads_round(
    operation: Callable[[T], object], items: Sequence[T], threads: int, pool: ThreadPoolExecutor
) -> Round:
    """Return a round that calls operation once per item, the items split evenly between threads
    workers of pool, timed from handing out the work until the last worker finishes."""
    chunks = [items[i::threads] for i in range(threads)]

    def work(chunk: Sequence[T]) -> None:
        for item in chunk:
            operation(item)

    def run() -> float:
        start = perf_counter()
        list(pool.map(work, chunks))
        return len(items) / (perf_counter() - start)

    return run


def best_rates(rounds: dict[str, Round]) -> dict[str, float]:
    """Run each round once as a warm-up, then ROUNDS times each in turn, and return each one's
    best rate. Taking turns spreads the load of other processes over a figure and its baseline
    alike; the best round is the one least disturbed by them."""
    for run in rounds.values():
        run()
    best = dict.fromkeys(rounds, 0.0)
    for _ in range(ROUNDS):
        for name, run in rounds.items():
            best[name] = max(best[name], run())
    return best


def round_items(items: Sequence[T], iterations: int) -> list[T]:
    """Return the items one round of a measurement of iterations calls works through."""
    return repeat_to(items, max(1, iterations // ROUNDS))


# -- inputs ------------------------------------------------------------------------------------


def realistic_entries(count: int) -> list[bytes]:
    """Return count distinct encoded log entries shaped like meter readings, ~400 bytes each."""
    rng = random.Random(6962)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    entries = []
    last_in_stream: dict[str, str] = {}
    for i in range(count):
        stream = f"meter:NL-AMS/{i % 97}"
        kwh = Decimal(rng.randrange(1, 10_000_000)) / 1000
        body = {
            "meter": f"NL-AMS-{rng.randrange(10**8):08d}",
            "site": f"site:amsterdam/noord/{rng.randrange(10_000)}",
            "interval": {
                "start": format_time(start + timedelta(minutes=15 * i)),
                "end": format_time(start + timedelta(minutes=15 * (i + 1))),
            },
            "energy_wh": str(kwh * 1000),
            "carbon_g": str((kwh * Decimal("0.328")).quantize(Decimal("0.001")) * 1000),
        }
        entry = Entry(
            format=ENTRY_FORMAT,
            type="bench.reading/v1",
            stream=stream,
            seq=i // 97,
            prev=last_in_stream.get(stream),
            time=format_time(start + timedelta(minutes=15 * (i + 1), seconds=rng.randrange(60))),
            body=body,
            evidence=b64(rng.randbytes(16)),
        )
        data = encode_entry(entry)
        last_in_stream[stream] = b64(leaf_hash(data))
        entries.append(data)
    return entries


def build_tree(size: int) -> MemoryHashStore:
    """Return a MemoryHashStore of size leaves whose entries are the leaves' 8-byte indexes (the
    entries do not change the cost of a proof, and 1M realistic entries would cost 400 MB)."""
    store = MemoryHashStore()
    for i in range(size):
        store.append(leaf_hash(i.to_bytes(8, "big")))
    return store


def consistency_hash_count(old_size: int, new_size: int, proof_length: int) -> int:
    """Return how many node hashes verify_consistency computes for a valid proof of proof_length
    hashes: RFC 9162 §2.1.4.2 hashes twice on a step along the old tree's edge, once elsewhere."""
    steps = proof_length if old_size & (old_size - 1) == 0 else proof_length - 1
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    count = 0
    for _ in range(steps):
        if fn & 1 or fn == sn:
            count += 2
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            count += 1
        fn >>= 1
        sn >>= 1
    return count


def free_memory_bytes() -> int | None:
    """Return the free physical memory, or None where the OS does not say."""
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


# -- SoftHSM2 ----------------------------------------------------------------------------------


@contextlib.contextmanager
def throwaway_softhsm_token() -> Iterator[Pkcs11Token | str]:
    """Yield a logged-in SoftHSM2 token in a temporary directory, removed afterwards, or a string
    saying why there is none. Must run before anything else in the process loads SoftHSM2, which
    reads SOFTHSM2_CONF once."""
    module = next((path for path in SOFTHSM_MODULES if os.path.isfile(path)), None)
    util = shutil.which("softhsm2-util")
    if module is None or util is None:
        yield "SoftHSM2 is not installed (apt-get install softhsm2)"
        return
    with tempfile.TemporaryDirectory(prefix="bench-softhsm-") as root:
        tokens = Path(root, "tokens")
        tokens.mkdir()
        conf = Path(root, "softhsm2.conf")
        conf.write_text(
            f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n"
        )
        os.environ["SOFTHSM2_CONF"] = str(conf)
        subprocess.run(
            [
                *(util, "--init-token", "--free", "--label", SOFTHSM_LABEL),
                *("--pin", SOFTHSM_PIN, "--so-pin", SOFTHSM_SO_PIN),
            ],
            check=True,
            capture_output=True,
        )
        token = Pkcs11Token.open(module, SOFTHSM_LABEL, SOFTHSM_PIN)
        try:
            yield token
        finally:
            token.close()


def softhsm_version() -> str:
    util = shutil.which("softhsm2-util")
    if util is None:
        return "not installed"
    done = subprocess.run([util, "--version"], capture_output=True, text=True, check=False)
    return done.stdout.strip() or "unknown"


# -- measurements ------------------------------------------------------------------------------


def bench_leaf_hashing(iterations: dict[str, int]) -> Section:
    entries = realistic_entries(ENTRY_COUNT)
    sha256 = hashlib.sha256
    if any(sha256(b"\x00" + entry).digest() != leaf_hash(entry) for entry in entries):
        raise RuntimeError("the raw baseline does not compute leaf_hash")
    inputs = round_items(entries, iterations["leaf"])
    rates = best_rates(
        {
            "ours": loop_round(leaf_hash, inputs),
            "raw": loop_round(lambda entry: sha256(b"\x00" + entry).digest(), inputs),
        }
    )
    mean_size = sum(map(len, entries)) / len(entries)
    return Section(
        "Leaf hashing",
        [
            Row(
                f"leaf_hash, entries of mean {mean_size:.0f} B",
                rates["ours"],
                'hashlib.sha256(b"\\x00" + entry).digest()',
                rates["raw"],
            )
        ],
        [
            f"Both cycle over the same {len(entries)} encoded meter-reading entries "
            f"({min(map(len, entries))}-{max(map(len, entries))} B)."
        ],
    )


def bench_proofs(iterations: dict[str, int], tree_size: int) -> Section:
    start = perf_counter()
    store = build_tree(tree_size)
    build_seconds = perf_counter() - start
    rng = random.Random(9162)
    root = tree_hash_from_reader(tree_size, store)

    inclusion_cases = []
    for _ in range(PROOF_COUNT):
        index = rng.randrange(tree_size)
        proof = inclusion_proof(index, tree_size, store)
        inclusion_cases.append((leaf_hash(index.to_bytes(8, "big")), index, tree_size, proof, root))
    # verify_inclusion hashes once per proof hash.
    inclusion_hashes = sum(len(case[3]) for case in inclusion_cases) / len(inclusion_cases)

    roots: dict[int, bytes] = {tree_size: root}
    consistency_cases = []
    consistency_hashes = 0
    for _ in range(PROOF_COUNT):
        old, new = sorted(rng.sample(range(1, tree_size + 1), 2))
        for size in (old, new):
            if size not in roots:
                roots[size] = tree_hash_from_reader(size, store)
        proof = consistency_proof(old, new, store)
        consistency_cases.append((old, new, proof, roots[old], roots[new]))
        consistency_hashes += consistency_hash_count(old, new, len(proof))
    consistency_hash_mean = consistency_hashes / len(consistency_cases)

    # The raw baseline hashes pairs of the tree's own hashes, as the verifiers do.
    hashes = store.hashes
    pairs = [(hashes[i], hashes[i + 1]) for i in range(0, 2 * ENTRY_COUNT, 2)]
    sha256 = hashlib.sha256
    rates = best_rates(
        {
            "node": loop_round(
                lambda pair: sha256(b"\x01" + pair[0] + pair[1]).digest(),
                round_items(pairs, iterations["node"]),
            ),
            "inclusion": loop_round(
                lambda case: verify_inclusion(*case),
                round_items(inclusion_cases, iterations["inclusion"]),
            ),
            "consistency": loop_round(
                lambda case: verify_consistency(*case),
                round_items(consistency_cases, iterations["consistency"]),
            ),
        }
    )
    leaves = f"{tree_size:,} leaves"
    return Section(
        f"Proof verification (tree of {leaves} in a MemoryHashStore)",
        [
            Row(
                f"verify_inclusion, {size}",
                rates["inclusion"],
                f"raw node SHA-256 rate / {inclusion_hashes:.1f} hashes",
                rates["node"] / inclusion_hashes,
            ),
            Row(
                f"verify_consistency, {size}",
                rates["consistency"],
                f"raw node SHA-256 rate / {consistency_hash_mean:.1f} hashes",
                rates["node"] / consistency_hash_mean,
            ),
            Row("  raw node SHA-256 rate", rates["node"], 'sha256(b"\\x01" + left + right)'),
        ],
        [
            f"Tree built in {build_seconds:.1f} s (leaf_hash of 8-byte indexes + "
            "MemoryHashStore.append); entry contents do not change proof cost.",
            f"{PROOF_COUNT} random inclusion proofs and {PROOF_COUNT} random consistency proofs "
            "(0 < old < new <= size); hashes = mean node hashes a verification computes.",
        ],
    )


def bench_signing(iterations: dict[str, int], message: bytes, token: Pkcs11Token | str) -> Section:
    ed = SoftwareSigner.generate(Algorithm.ED25519)
    p256 = SoftwareSigner.generate(Algorithm.ECDSA_P256)
    ed_secret = nacl.bindings.crypto_sign_seed_keypair(os.urandom(32))[1]
    p256_key = ec.generate_private_key(ec.SECP256R1())
    openssl_ed = ed25519.Ed25519PrivateKey.generate()
    ecdsa = ec.ECDSA(hashes.SHA256())

    def messages(name: str) -> list[bytes]:
        return round_items([message], iterations[name])

    rounds = {
        "raw-ed25519": loop_round(
            lambda m: nacl.bindings.crypto_sign(m, ed_secret), messages("sign-ed25519")
        ),
        "ed25519": loop_round(ed.sign, messages("sign-ed25519")),
        "openssl-ed25519": loop_round(openssl_ed.sign, messages("sign-ed25519-openssl")),
        "raw-p256": loop_round(lambda m: p256_key.sign(m, ecdsa), messages("sign-p256")),
        "p256": loop_round(p256.sign, messages("sign-p256")),
    }
    notes = [f"Every signature is over the same {len(message)}-byte checkpoint body."]
    if isinstance(token, str):
        notes.append(f"SoftHSM2 rows skipped: {token}")
    else:
        hsm_ed = token.generate_key("bench-ed25519", Algorithm.ED25519)
        hsm_p256 = token.generate_key("bench-p256", Algorithm.ECDSA_P256)
        rounds["hsm-ed25519"] = loop_round(hsm_ed.sign, messages("sign-hsm-ed25519"))
        rounds["hsm-p256"] = loop_round(hsm_p256.sign, messages("sign-hsm-p256"))
        notes.append(
            "SoftHSM2 keys are made in a throwaway token in a temporary directory; signing is on "
            "one thread, since calls into one PKCS#11 module are serialised by its lock."
        )
    rates = best_rates(rounds)
    raw_ed, raw_p256 = "raw PyNaCl crypto_sign", "raw cryptography key.sign"
    rows = [
        Row("SoftwareSigner Ed25519", rates["ed25519"], raw_ed, rates["raw-ed25519"]),
        Row(
            "cryptography (OpenSSL) Ed25519 key.sign",
            rates["openssl-ed25519"],
            raw_ed,
            rates["raw-ed25519"],
        ),
        Row("SoftwareSigner ECDSA P-256", rates["p256"], raw_p256, rates["raw-p256"]),
    ]
    if "hsm-ed25519" in rates:
        rows += [
            Row(
                "SoftHSM2 Ed25519 (Pkcs11Signer)",
                rates["hsm-ed25519"],
                raw_ed,
                rates["raw-ed25519"],
            ),
            Row(
                "SoftHSM2 ECDSA P-256 (Pkcs11Signer)",
                rates["hsm-p256"],
                raw_p256,
                rates["raw-p256"],
            ),
        ]
    return Section("Signing", rows, notes)


def bench_verification(iterations: dict[str, int], message: bytes) -> Section:
    ed = SoftwareSigner.generate(Algorithm.ED25519)
    p256 = SoftwareSigner.generate(Algorithm.ECDSA_P256)
    ed_public, ed_signature = ed.public_key_raw, ed.sign(message)
    p256_public, p256_signature = p256.public_key_raw, p256.sign(message)
    p256_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), p256_public)
    ecdsa = ec.ECDSA(hashes.SHA256())

    def ours_ed25519(m: bytes) -> None:
        verify_ed25519(ed_public, ed_signature, m)

    def raw_ed25519(m: bytes) -> None:
        nacl.bindings.crypto_sign_open(ed_signature + m, ed_public)

    openssl_ed25519_key = ed25519.Ed25519PublicKey.from_public_bytes(ed_public)

    def openssl_ed25519(m: bytes) -> None:
        openssl_ed25519_key.verify(ed_signature, m)

    def ours_p256(m: bytes) -> None:
        verify_ecdsa(p256_public, p256_signature, m, algorithm=Algorithm.ECDSA_P256)

    def raw_p256(m: bytes) -> None:
        p256_key.verify(p256_signature, m, ecdsa)

    # hashlib releases the GIL while hashing more than 2 KiB, so its 2-thread ratio shows how much
    # of a second core this process actually got; the other ratios are only as good as it.
    control_buffer = os.urandom(1 << 20)

    def control(buffer: bytes) -> None:
        hashlib.sha256(buffer).digest()

    # label, rate key, iterations key, operation, rate key of the raw baseline of its 1-thread row
    cases = [
        ("Ed25519 verify_ed25519", "ed25519", "verify-ed25519", ours_ed25519, "raw-ed25519"),
        ("  raw PyNaCl crypto_sign_open", "raw-ed25519", "verify-ed25519", raw_ed25519, None),
        (
            "  cryptography (OpenSSL) Ed25519 verify",
            "openssl-ed25519",
            "verify-ed25519-openssl",
            openssl_ed25519,
            "raw-ed25519",
        ),
        ("ECDSA P-256 verify_ecdsa", "p256", "verify-p256", ours_p256, "raw-p256"),
        ("  raw cryptography key.verify", "raw-p256", "verify-p256", raw_p256, None),
        ("control: sha256 of 1 MiB", "control", "control", control, None),
    ]
    labels = {key: label.strip() for label, key, *_ in cases}
    rounds: dict[str, Round] = {}
    with ThreadPoolExecutor(max_workers=2) as pool:
        for _, key, count, operation, _ in cases:
            item = control_buffer if key == "control" else message
            items = round_items([item], iterations[count])
            rounds[f"{key}-1"] = threads_round(operation, items, 1, pool)
            rounds[f"{key}-2"] = threads_round(operation, items, 2, pool)
        # One interleaved set, so that the control sees the same load as the rows it qualifies.
        rates = best_rates(rounds)
    rows = []
    for label, key, _, _, raw in cases:
        if raw is not None:
            rows.append(
                Row(
                    f"{label}, 1 thread",
                    rates[f"{key}-1"],
                    f"{labels[raw]}, 1 thread",
                    rates[f"{raw}-1"],
                )
            )
        rows.append(
            Row(f"{label}, 2 threads", rates[f"{key}-2"], "the same, 1 thread", rates[f"{key}-1"])
        )
    return Section(
        "Verification (hardware_signers.verify), 1 and 2 threads",
        rows,
        [
            "Thread rows split each round's calls between 2 ThreadPoolExecutor workers; a "
            "2-thread / 1-thread ratio near 2 means the call runs without the GIL, near 1 (or "
            "below) that it holds it.",
            "The control row (hashlib releases the GIL) shows how much of a second core was free.",
        ],
    )


def bench_checkpoints(iterations: dict[str, int], checkpoint: Checkpoint) -> Section:
    ed_secret = nacl.bindings.crypto_sign_seed_keypair(os.urandom(32))[1]
    note_signer = NoteSigner(checkpoint.origin, SoftwareSigner.generate(Algorithm.ED25519))
    signer = CheckpointSigner(note_signer)
    note = signer.sign(checkpoint)
    log_key = signer.verifier_key
    open_checkpoint(note, log_key)  # a failure here would be a bug, not a figure
    body = checkpoint.body()
    public_key = ed25519.Ed25519PublicKey.from_public_bytes(log_key.public_key)
    signature = note_signer.signature(body).signature
    rates = best_rates(
        {
            "raw-sign": loop_round(
                lambda b: nacl.bindings.crypto_sign(b, ed_secret),
                round_items([body], iterations["checkpoint-sign"]),
            ),
            "sign": loop_round(
                signer.sign, round_items([checkpoint], iterations["checkpoint-sign"])
            ),
            "open": loop_round(
                lambda n: open_checkpoint(n, log_key),
                round_items([note], iterations["checkpoint-open"]),
            ),
            "raw-open": loop_round(
                lambda b: public_key.verify(signature, b),
                round_items([body], iterations["checkpoint-open"]),
            ),
        }
    )
    return Section(
        "Checkpoints (C2SP signed notes, software Ed25519)",
        [
            Row(
                "CheckpointSigner.sign",
                rates["sign"],
                "raw PyNaCl crypto_sign of the body",
                rates["raw-sign"],
            ),
            Row(
                "open_checkpoint",
                rates["open"],
                "raw cryptography Ed25519 verify",
                rates["raw-open"],
            ),
        ],
        [
            "Signing covers formatting the body and the signature line; opening covers parsing, "
            "verification (ledger.note uses cryptography, not PyNaCl) and strict re-parsing."
        ],
    )


# -- report ------------------------------------------------------------------------------------


def machine_lines(quick: bool, tree_size: int) -> list[str]:
    from cryptography.hazmat.backends.openssl.backend import backend

    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return [
        f"command:   {shlex.join(sys.orig_argv)}   (cwd {os.getcwd()})",
        f"machine:   {platform.platform()}, {cpu}, os.cpu_count()={os.cpu_count()}",
        f"python:    {platform.python_implementation()} {platform.python_version()}",
        f"libraries: cryptography {version('cryptography')} "
        f"({backend.openssl_version_text()}), PyNaCl {version('PyNaCl')}, "
        f"python-pkcs11 {version('python-pkcs11')}, SoftHSM2 {softhsm_version()}",
        f"mode:      {'--quick' if quick else 'full'}; tree of {tree_size:,} leaves; "
        f"started {datetime.now(UTC).isoformat(timespec='seconds')}",
    ]


def progress(what: str) -> None:
    print(f"measuring {what} ...", file=sys.stderr, flush=True)


def format_rate(rate: float) -> str:
    return f"{rate:,.0f}"


def render(sections: list[Section]) -> str:
    label_width = max(len(row.label) for section in sections for row in section.rows)
    base_width = max(len(row.baseline_label) for section in sections for row in section.rows)
    header = (
        f"{'measurement':<{label_width}}  {'ops/s':>11}  "
        f"{'baseline (same run)':<{base_width}}  {'ops/s':>11}  {'ratio':>6}"
    )
    lines = [header, "=" * len(header)]
    for section in sections:
        lines.append(f"-- {section.title}")
        for row in section.rows:
            baseline = "" if row.baseline_rate is None else format_rate(row.baseline_rate)
            ratio = "" if row.ratio is None else f"{row.ratio:.2f}"
            lines.append(
                f"{row.label:<{label_width}}  {format_rate(row.rate):>11}  "
                f"{row.baseline_label:<{base_width}}  {baseline:>11}  {ratio:>6}"
            )
        lines += [f"   note: {note}" for note in section.notes]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_crypto",
        description="Measure hashing, proof verification, signing and verification throughput.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="a tenth of the iterations and a 100,000-leaf tree"
    )
    args = parser.parse_args(argv)

    divisor = QUICK_DIVISOR if args.quick else 1
    iterations = {name: max(1, count // divisor) for name, count in FULL_ITERATIONS.items()}
    tree_size = QUICK_TREE_SIZE if args.quick else FULL_TREE_SIZE
    free = free_memory_bytes()
    memory_note = ""
    if free is not None and free < tree_size * TREE_BYTES_PER_LEAF:
        memory_note = (
            f"only {free / 2**20:,.0f} MiB free: using a {QUICK_TREE_SIZE:,}-leaf tree "
            f"instead of {tree_size:,}"
        )
        tree_size = QUICK_TREE_SIZE

    print("carbonledger crypto benchmark (benchmarks/bench_crypto.py)")
    for line in machine_lines(args.quick, tree_size):
        print(line)
    if memory_note:
        print(f"memory:    {memory_note}")
    print(
        f"Figures: wall-clock operations per second, best of {ROUNDS} rounds taken in turn with "
        "their baselines,\non one thread unless the row says otherwise; ratio = figure / baseline."
    )
    print(flush=True)

    started = perf_counter()
    checkpoint = Checkpoint("carbonledger.example/log", tree_size, os.urandom(32))
    message = checkpoint.body()
    # SoftHSM2 reads SOFTHSM2_CONF when it is first loaded, so the token comes first.
    progress("signing (software and SoftHSM2)")
    with throwaway_softhsm_token() as token:
        signing = bench_signing(iterations, message, token)
    progress("leaf hashing")
    leaves = bench_leaf_hashing(iterations)
    progress(f"proof verification (first building a tree of {tree_size:,} leaves)")
    proofs = bench_proofs(iterations, tree_size)
    progress("verification on 1 and 2 threads")
    verification = bench_verification(iterations, message)
    progress("checkpoints")
    checkpoints = bench_checkpoints(iterations, checkpoint)
    sections = [leaves, proofs, signing, verification, checkpoints]
    print(render(sections))
    print(f"\ntotal time {perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

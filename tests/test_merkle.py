"""ledger.merkle against the standard's data and against itself.

- the transparency-dev/merkle RFC 6962 / RFC 9162 proof test vectors in the shared fixtures;
- the Certificate Transparency reference tree of 8 leaves (certificate-transparency
  merkle_tree_test.cc, as published in transparency-dev/merkle testonly/constants.go and
  proof/verify_test.go): its roots, node hashes and proofs, as fixed literals;
- a real Certificate Transparency proof: Google's Argon 2020 log, entry 10000 and a consistency
  proof from size 3,654,490 to 961,984,013 (the responses Go's golang.org/x/mod/sumdb/tlog tests
  with, testdata/argon2020);
- properties of proofs built from stored hashes, for trees of up to a few thousand leaves.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import merkle
from ledger.errors import LedgerError, ProofError
from ledger.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    MemoryHashStore,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    split_stored_hash_index,
    stored_hash_count,
    stored_hash_index,
    stored_hashes,
    tree_hash,
    tree_hash_from_reader,
    verify_consistency,
    verify_inclusion,
)
from tests.conftest import FIXTURES


def _b64s(*values: str) -> list[bytes]:
    return [base64.b64decode(value, validate=True) for value in values]


def _hexes(*values: str) -> list[bytes]:
    return [bytes.fromhex(value) for value in values]


# -- The transparency-dev/merkle test vectors -----------------------------------------------------


def _vectors(kind: str) -> list[str]:
    return sorted(
        path.relative_to(FIXTURES).as_posix()
        for path in (FIXTURES / "merkle" / kind).rglob("*.json")
    )


INCLUSION_VECTORS = _vectors("inclusion")
CONSISTENCY_VECTORS = _vectors("consistency")


def _load(path: Path) -> dict:
    vector = json.loads(path.read_text())
    vector["proof"] = _b64s(*(vector["proof"] or []))
    for key in ("root", "root1", "root2", "leafHash"):
        if key in vector:
            vector[key] = base64.b64decode(vector[key], validate=True)
    return vector


def test_all_vectors_are_found(fixtures_dir: Path) -> None:
    on_disk = sorted(
        p.relative_to(fixtures_dir).as_posix() for p in (fixtures_dir / "merkle").rglob("*.json")
    )
    assert on_disk == sorted(INCLUSION_VECTORS + CONSISTENCY_VECTORS)
    assert len(INCLUSION_VECTORS) >= 98 and len(CONSISTENCY_VECTORS) >= 98


@pytest.mark.parametrize("vector", INCLUSION_VECTORS)
def test_inclusion_vector(fixtures_dir: Path, vector: str) -> None:
    v = _load(fixtures_dir / vector)
    args = (v["leafHash"], v["leafIdx"], v["treeSize"], v["proof"], v["root"])
    if v["wantErr"]:
        with pytest.raises(ProofError):
            verify_inclusion(*args)
    else:
        verify_inclusion(*args)


@pytest.mark.parametrize("vector", CONSISTENCY_VECTORS)
def test_consistency_vector(fixtures_dir: Path, vector: str) -> None:
    v = _load(fixtures_dir / vector)
    args = (v["size1"], v["size2"], v["proof"], v["root1"], v["root2"])
    if v["wantErr"]:
        with pytest.raises(ProofError):
            verify_consistency(*args)
    else:
        verify_consistency(*args)


def test_leaf_index_two_to_the_64_minus_one_is_refused(fixtures_dir: Path) -> None:
    found = 0
    for vector in INCLUSION_VECTORS:
        v = _load(fixtures_dir / vector)
        if v["leafIdx"] == 2**64 - 1:
            found += 1
            with pytest.raises(ProofError, match="beyond the tree"):
                verify_inclusion(v["leafHash"], v["leafIdx"], v["treeSize"], v["proof"], v["root"])
    assert found >= 1


# -- The Certificate Transparency reference tree --------------------------------------------------

CT_LEAVES = _hexes(
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
)
CT_ROOTS = _hexes(
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
)
# CT_NODES[level][n]: the hash of every complete subtree of the 8-leaf tree.
CT_NODES = [
    _hexes(
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
        "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    ),
    _hexes(
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    ),
    _hexes(
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ),
    _hexes("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
]
# (leaf index, tree size, audit path)
CT_INCLUSION_PROOFS = [
    (0, 1, []),
    (
        0,
        8,
        _hexes(
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ),
    ),
    (
        5,
        8,
        _hexes(
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ),
    ),
    (2, 3, _hexes("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")),
    (
        1,
        5,
        _hexes(
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ),
    ),
]
# (old size, new size, consistency proof)
CT_CONSISTENCY_PROOFS = [
    (1, 1, []),
    (
        1,
        8,
        _hexes(
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ),
    ),
    (
        6,
        8,
        _hexes(
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ),
    ),
    (
        2,
        5,
        _hexes(
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ),
    ),
    (
        6,
        7,
        _hexes(
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ),
    ),
]


def _ct_store() -> MemoryHashStore:
    store = MemoryHashStore()
    for entry in CT_LEAVES:
        store.append(leaf_hash(entry))
    return store


def test_empty_root_and_hash_functions() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert tree_hash([]) == EMPTY_ROOT
    assert tree_hash_from_reader(0, MemoryHashStore()) == EMPTY_ROOT
    assert leaf_hash(b"") == CT_NODES[0][0]
    assert node_hash(CT_NODES[0][0], CT_NODES[0][1]) == CT_NODES[1][0]
    assert node_hash(CT_NODES[2][0], CT_NODES[2][1]) == CT_ROOTS[7]


def test_reference_roots() -> None:
    store = _ct_store()
    hashes = [leaf_hash(entry) for entry in CT_LEAVES]
    for size in range(1, 9):
        assert tree_hash(hashes[:size]) == CT_ROOTS[size - 1]
        assert tree_hash_from_reader(size, store) == CT_ROOTS[size - 1]


def test_reference_node_hashes_are_stored_where_go_tlog_stores_them() -> None:
    store = _ct_store()
    assert len(store.hashes) == stored_hash_count(8) == 15
    for level, nodes in enumerate(CT_NODES):
        for n, node in enumerate(nodes):
            assert store.hashes[stored_hash_index(level, n)] == node
    # The dense order of Crosby and Wallach: each leaf, then the subtrees it completes.
    assert [split_stored_hash_index(i) for i in range(8)] == [
        (0, 0), (0, 1), (1, 0), (0, 2), (0, 3), (1, 1), (2, 0), (0, 4),
    ]  # fmt: skip


@pytest.mark.parametrize(("index", "size", "proof"), CT_INCLUSION_PROOFS)
def test_reference_inclusion_proofs(index: int, size: int, proof: list[bytes]) -> None:
    assert inclusion_proof(index, size, _ct_store()) == proof
    verify_inclusion(leaf_hash(CT_LEAVES[index]), index, size, proof, CT_ROOTS[size - 1])


@pytest.mark.parametrize(("old", "new", "proof"), CT_CONSISTENCY_PROOFS)
def test_reference_consistency_proofs(old: int, new: int, proof: list[bytes]) -> None:
    assert consistency_proof(old, new, _ct_store()) == proof
    verify_consistency(old, new, proof, CT_ROOTS[old - 1], CT_ROOTS[new - 1])


# -- A real Certificate Transparency log ----------------------------------------------------------

ARGON2020_LEAF_INPUT = base64.b64decode(
    "AAAAAAFelPhqUwAAAAViMIIFXjCCBEagAwIBAgIRAOodHzZdqWIFzYyl/SovhCMwDQYJKoZIhvcNAQELBQAwgZAx"
    "CzAJBgNVBAYTAkdCMRswGQYDVQQIExJHcmVhdGVyIE1hbmNoZXN0ZXIxEDAOBgNVBAcTB1NhbGZvcmQxGjAYBgNV"
    "BAoTEUNPTU9ETyBDQSBMaW1pdGVkMTYwNAYDVQQDEy1DT01PRE8gUlNBIERvbWFpbiBWYWxpZGF0aW9uIFNlY3Vy"
    "ZSBTZXJ2ZXIgQ0EwHhcNMTcwMjE1MDAwMDAwWhcNMjAwNDE2MjM1OTU5WjBfMSEwHwYDVQQLExhEb21haW4gQ29u"
    "dHJvbCBWYWxpZGF0ZWQxHTAbBgNVBAsTFFBvc2l0aXZlU1NMIFdpbGRjYXJkMRswGQYDVQQDDBIqLmxhbmRsb3Jk"
    "cy5jb20uYXUwggEiMA0GCSqGSIb3DQEBAQUAA4IBDwAwggEKAoIBAQCtPBKKHj4zdrGlCjgTHzb5gx9JCs97DwvB"
    "z60f14gDufF2haWbOxyJ0a3opAMsZnOr8HkARVCwxdqG/PTfACcb0QM7FOlzvxGqxataTYiChwvkkif8F9GlJw69"
    "HuHgzhusPf1Ytfk3ps1PRC14MkyrS4kwPrk/Le4XdkqRpRw62wG4V6IkbzsNMEOl1H8EgUbfyapdOcVxHjIzvBVy"
    "56fBRKG05Fr5wNq3Acak5kYZdNsLhhmlrqAfAjiombW3hb3V5blJdRC0BDdYHv2+zKey6LqJ1FDoXo6IzbzPpC+a"
    "ifZy47YX+/N1U64Qn5xlDg7mOP8JXfkNJHbU1TJZHif5AgMBAAGjggHhMIIB3TAfBgNVHSMEGDAWgBSQr2o6lFoL"
    "2JDqElZz30O0Oija5zAdBgNVHQ4EFgQUNQSLjkoz01I+iuuoC5lgEp0anhcwDgYDVR0PAQH/BAQDAgWgMAwGA1Ud"
    "EwEB/wQCMAAwHQYDVR0lBBYwFAYIKwYBBQUHAwEGCCsGAQUFBwMCME8GA1UdIARIMEYwOgYLKwYBBAGyMQECAgcw"
    "KzApBggrBgEFBQcCARYdaHR0cHM6Ly9zZWN1cmUuY29tb2RvLmNvbS9DUFMwCAYGZ4EMAQIBMFQGA1UdHwRNMEsw"
    "SaBHoEWGQ2h0dHA6Ly9jcmwuY29tb2RvY2EuY29tL0NPTU9ET1JTQURvbWFpblZhbGlkYXRpb25TZWN1cmVTZXJ2"
    "ZXJDQS5jcmwwgYUGCCsGAQUFBwEBBHkwdzBPBggrBgEFBQcwAoZDaHR0cDovL2NydC5jb21vZG9jYS5jb20vQ09N"
    "T0RPUlNBRG9tYWluVmFsaWRhdGlvblNlY3VyZVNlcnZlckNBLmNydDAkBggrBgEFBQcwAYYYaHR0cDovL29jc3Au"
    "Y29tb2RvY2EuY29tMC8GA1UdEQQoMCaCEioubGFuZGxvcmRzLmNvbS5hdYIQbGFuZGxvcmRzLmNvbS5hdTANBgkq"
    "hkiG9w0BAQsFAAOCAQEACyHqxUzrexToY7tOv4+kyGPP2D27P1tQpyzeAl1bPObiMhNK2b9vvBLDWAaqm8c0YL1h"
    "+DBdLoWzf3xFsIkTCVCjWJTNSNlcYtgRk6or1s7jWsfXzWqsnPjPPmTIOCw7EfH7Yme3oxPs3UUsmShAgPwNohAt"
    "L9GqlqMiKM6v1WU3NHt01jEoNP23LRa6KeNK6AH6WHJykzL223IlhgXjHTeuQj6lR+TNrQXJuhwTXYe+20rrpPQx"
    "c1Pn7AqnvfWgmicRQ7gdIcr4V6+ecTvLfNOaJ0ZYe5G5giuAAdTm7F57pk04f4gyZNYKrj88mvbkoriN8b6jcWEx"
    "trYO6bm2TwAA"
)
ARGON2020_AUDIT_PATH = _b64s(
    "T46AmJsuOM/gFiGlUp+IJJebp+1Z5qratFNW7U0JyOQ=",
    "9Jj1Feodn42uRYEfffkV4HF/EIPFQ5Zo9IwkxbQ2uhk=",
    "D53/1oCNebF4J59HHgioovKZxrmrKcVuCVhy3Izg8Ck=",
    "wSFDgGSrsXRPA+1c8WHoAFCsWeUv8NDyP/Q/SgsyVyY=",
    "516/RcwsgdwdzHn18v1dJHqBkgFUbNhmCIWOGjsMJaE=",
    "naTFY2ajLFgrgs5XUl+zJYZnnlJksLGsA1VYwpLfqbY=",
    "mKBRJo6qao+0Kdh/rhGkZUbHUAxMhrtrclrTpIbNjIg=",
    "Co4ueOFE7lpifLio94irxxsv1wFMMaK3tPu2ZQkHlro=",
    "yRgy800K6JMYCC05sWfqF2kvCg2riT/pVM+nEa6V5+0=",
    "n2O38XJZC8/Wpbwi9HhgVizlUyeUHVZvYyQB1607MRc=",
    "go3tAjuNfNSCj87y2Rg1xOroDknGN1eaf3cgvzObf7Q=",
    "8D0Mj3/J7ySSnFb0afIHYXv6rlOhECnsebY6XKi1IR8=",
    "6rcez46ZU8M5vPiWVMAUfJfAOV0pPP/mch/lYzZhj/M=",
    "2rtIeXrPvSdUyHc5maIgSAVB2BzaKaupWxSAiVayDE4=",
    "nniW/IMFQPN5xw8UsHFn7CRStYbm1gLu7NNa6kkRqJQ=",
    "mRPPi7sQS22MduIEyvcNzCNFqIt6kLwYPkNKrVtIcu8=",
    "JvTivzESNS9wHI8aph5a7uieVmtS/p9PciMZ5D6GyOo=",
    "UTyQd+Ym0wY4zG+qK806bBORwi1CSVvFQ/KknnqoZj8=",
    "hXODrqN+ff+U6zPqRQ+ZQKs6im1fPcxIerDSfNwflhE=",
    "II6GE+WY/DrpZzfHztLwkR46o37zVkNLCyPYlf68zA0=",
    "d609kWWcNBllbA8Jb/ad4XAVVGnScLRmtP8FYyr+Dck=",
    "rikBsP0G0gioXRpBFED2CzQdSLrGPvRd0bEcbEZw1rI=",
    "GXIElfmnRuWfbA4z7ubV/UwlpSRUbUeec7oL5HDDnh0=",
    "pR0SH/NYP6s9+8azWwaeUXA4Ze/3WCIgMfh5YW6wvcE=",
    "f3GuAKYVrF8RBg3s15jvA/YvV9oAliWtzP/imwPhQVA=",
    "WHn8zDxlVgkV+lSlmzaOdfSBrTHoRr5nT3d76q0KKWE=",
    "f2uV2ZxVgULzLPKuZcowRY3ZY7fRlX59iDBjV1R8kNQ=",
    "NzQVjJsvQwbi7WStMr9oFkh9VbHfK7LB6o7WwAqwNTs=",
    "C0LttBeYHZHgL+032JIcJC3CTBIyza/hsbmJUgJfmDI=",
    "nixU5CWTFVDlF4BGdcU6kA7WSYurEpe9jRWc+F/7sOc=",
)
ARGON2020_CONSISTENCY = _b64s(
    "80Sfbj6UQEdVSZCSIgh9NMPj3vCBzcc1A48B2crJSWg=",
    "FZcrgAHUk6nNPviJZq8kEK6jCG1d18pJOFE45ZDc1TQ=",
    "Q67reWXmPBo1UfmwBap4Xi9PMPfFdUSSw3WGlRZdG7k=",
    "eJ7CyhR4PxzBxDIsWgrVYW1eFUb9ndgf46tFmiqVrxA=",
    "QrDwp062Grm5WY8KdrhFsBuuNjGzRox2Jb8PmVL5OYw=",
    "XM4YMjMEdLH/XJam/ZWyaP14k3cmsOtnPsOWQ54lW1s=",
    "SGiBh+jOTGccXU48ZzgQ88lRcBmtB4wz4oSDndv2QTg=",
    "WAS6txqNLYKGL1GdBdpqmV42TTfn6cJsuDsqLXuTCNI=",
    "QFmRS0rirUA7ZN3lxFjDncV+E1OCrn3NUB4RCp+5fzc=",
    "Hdbp7It2XBNZmNDBpCN/KPd7vfVqxgzwOosqVIaEA9E=",
    "mxvHL0ZiblBdD7j7pIa1jlfB0gSqfJ6oX0UGo7L0VsU=",
    "q5hjyvoW6TL/PThgcitpDcSTrnKX2p1+aqscqH2euRA=",
    "jTOWDqt3IHj2NVFeezyBz2ofpru+ztEywqKUAfFclKI=",
    "GIRn0w3HqJdvU9j1WVD//eR6lk2AaTVjyzjsJNP8U88=",
    "x52GJvxG81fnQBrgOTbll1A5tz95/LXK0Ag1NhB0r1I=",
    "6/0OqrcTgc3o5dD5PymmoC96lB9yLPFuTHVvLy8fSGk=",
    "Gf+iKLfcXO5l4JEFmsZvSdG5q1uEeWPfYLrds6pmjz0=",
    "DGuaco+McyM3AfRSF6qX7RwSetwe2ieYJmxw5e9rVx0=",
    "2tQJ9V32hnYp+fdpP6TcjmgJmLeNVOMKM0Ml1kk4cNU=",
    "3PapK+IkyJr8I9yAErAmzuZezzLMzsg+PfeRCgNW8NQ=",
    "s6xiYeejb+wtqHA+URJZ2I/SCPyIW8coP6aB00FJbMY=",
    "z9lSpmdTcr5M5ZzKlc4EPh3SrSypKFdk6JUF/UccaZU=",
    "GXIElfmnRuWfbA4z7ubV/UwlpSRUbUeec7oL5HDDnh0=",
    "pR0SH/NYP6s9+8azWwaeUXA4Ze/3WCIgMfh5YW6wvcE=",
    "f3GuAKYVrF8RBg3s15jvA/YvV9oAliWtzP/imwPhQVA=",
    "WHn8zDxlVgkV+lSlmzaOdfSBrTHoRr5nT3d76q0KKWE=",
    "f2uV2ZxVgULzLPKuZcowRY3ZY7fRlX59iDBjV1R8kNQ=",
    "NzQVjJsvQwbi7WStMr9oFkh9VbHfK7LB6o7WwAqwNTs=",
    "C0LttBeYHZHgL+032JIcJC3CTBIyza/hsbmJUgJfmDI=",
    "nixU5CWTFVDlF4BGdcU6kA7WSYurEpe9jRWc+F/7sOc=",
)
ARGON2020_SIZE = 961_984_013
ARGON2020_ROOT = base64.b64decode("dwlueapdd7LaOEnX2W2Wp9v2XE+KzejHRQGHwEx0oaM=")
ARGON2020_OLD_SIZE = 3_654_490
ARGON2020_OLD_ROOT = base64.b64decode("AuIZ5V6sDUj1vn3Y1K85oOaQ7y+FJJKtyRTl1edIKBQ=")


def test_real_ct_inclusion_proof() -> None:
    leaf = leaf_hash(ARGON2020_LEAF_INPUT)
    verify_inclusion(leaf, 10_000, ARGON2020_SIZE, ARGON2020_AUDIT_PATH, ARGON2020_ROOT)
    with pytest.raises(ProofError, match="leads to root"):
        verify_inclusion(leaf, 10_001, ARGON2020_SIZE, ARGON2020_AUDIT_PATH, ARGON2020_ROOT)
    with pytest.raises(ProofError, match="leads to root"):
        verify_inclusion(
            leaf_hash(ARGON2020_LEAF_INPUT[:-1]),
            10_000,
            ARGON2020_SIZE,
            ARGON2020_AUDIT_PATH,
            ARGON2020_ROOT,
        )


def test_real_ct_consistency_proof() -> None:
    verify_consistency(
        ARGON2020_OLD_SIZE,
        ARGON2020_SIZE,
        ARGON2020_CONSISTENCY,
        ARGON2020_OLD_ROOT,
        ARGON2020_ROOT,
    )
    with pytest.raises(ProofError):
        verify_consistency(
            ARGON2020_OLD_SIZE + 1,
            ARGON2020_SIZE,
            ARGON2020_CONSISTENCY,
            ARGON2020_OLD_ROOT,
            ARGON2020_ROOT,
        )


# -- Properties of proofs from stored hashes ------------------------------------------------------

MAX_SIZE = 3000


@cache
def _tree() -> tuple[list[bytes], MemoryHashStore]:
    leaves = [leaf_hash(b"entry %d" % i) for i in range(MAX_SIZE)]
    store = MemoryHashStore()
    for h in leaves:
        store.append(h)
    return leaves, store


@cache
def _root(size: int) -> bytes:
    # From the leaf hashes directly, not from the stored hashes the proofs are made of.
    return tree_hash(_tree()[0][:size])


class CountingReader:
    """A HashReader over a MemoryHashStore that records every call it gets."""

    def __init__(self, store: MemoryHashStore) -> None:
        self.store = store
        self.calls: list[list[int]] = []

    def read_hashes(self, indexes: Sequence[int]) -> list[bytes]:
        self.calls.append(list(indexes))
        return self.store.read_hashes(indexes)


# Sizes near powers of two are where the proof shapes change.
_EDGES = sorted({max(1, (1 << k) + d) for k in range(12) for d in (-1, 0, 1)})
sizes = st.one_of(st.sampled_from(_EDGES), st.integers(1, 70), st.integers(1, MAX_SIZE))


def _flip(h: bytes, bit: int) -> bytes:
    return h[: bit // 8] + bytes([h[bit // 8] ^ (1 << (bit % 8))]) + h[bit // 8 + 1 :]


@settings(max_examples=150, deadline=None)
@given(data=st.data(), size=sizes)
def test_inclusion_proofs_verify_and_any_change_is_refused(data: st.DataObject, size: int) -> None:
    leaves, store = _tree()
    index = data.draw(st.integers(0, size - 1), label="index")
    reader = CountingReader(store)
    proof = inclusion_proof(index, size, reader)
    root = _root(size)
    leaf = leaves[index]
    verify_inclusion(leaf, index, size, proof, root)

    assert len(reader.calls) == (1 if proof else 0)
    for call in reader.calls:
        assert call == sorted(set(call))

    bits = st.integers(0, 8 * HASH_SIZE - 1)
    for k in range(len(proof)):
        bad = [*proof]
        bad[k] = _flip(proof[k], data.draw(bits, label="bit"))
        with pytest.raises(ProofError, match="leads to root"):
            verify_inclusion(leaf, index, size, bad, root)
    with pytest.raises(ProofError, match="leads to root"):
        verify_inclusion(_flip(leaf, data.draw(bits)), index, size, proof, root)
    with pytest.raises(ProofError, match="leads to root"):
        verify_inclusion(leaf, index, size, proof, _flip(root, data.draw(bits)))

    extra = data.draw(st.binary(min_size=HASH_SIZE, max_size=HASH_SIZE), label="extra")
    for bad in ([*proof, extra], [extra, *proof], proof[:-1], proof[1:]):
        if bad != proof:
            with pytest.raises(ProofError, match="hashes, want"):
                verify_inclusion(leaf, index, size, bad, root)

    other = data.draw(st.integers(0, size - 1), label="other index")
    if other != index:
        with pytest.raises(ProofError):
            verify_inclusion(leaf, other, size, proof, root)
        with pytest.raises(ProofError):
            verify_inclusion(leaves[other], other, size, proof, root)
    with pytest.raises(ProofError, match="beyond the tree"):
        verify_inclusion(leaf, size, size, proof, root)

    # A proof for one tree size does not prove inclusion in another tree of the same log.
    other_size = data.draw(st.integers(index + 1, MAX_SIZE), label="other size")
    if other_size != size:
        with pytest.raises(ProofError):
            verify_inclusion(leaf, index, other_size, proof, _root(other_size))


@settings(max_examples=150, deadline=None)
@given(data=st.data(), new=sizes)
def test_consistency_proofs_verify_and_any_change_is_refused(data: st.DataObject, new: int) -> None:
    _, store = _tree()
    old = data.draw(st.integers(1, new), label="old")
    reader = CountingReader(store)
    proof = consistency_proof(old, new, reader)
    old_root, new_root = _root(old), _root(new)
    verify_consistency(old, new, proof, old_root, new_root)

    assert len(reader.calls) == (1 if proof else 0)
    for call in reader.calls:
        assert call == sorted(set(call))
    assert (proof == []) == (old == new)

    bits = st.integers(0, 8 * HASH_SIZE - 1)
    for k in range(len(proof)):
        bad = [*proof]
        bad[k] = _flip(proof[k], data.draw(bits, label="bit"))
        with pytest.raises(ProofError, match="leads to"):
            verify_consistency(old, new, bad, old_root, new_root)
    with pytest.raises(ProofError):
        verify_consistency(old, new, proof, _flip(old_root, data.draw(bits)), new_root)
    with pytest.raises(ProofError):
        verify_consistency(old, new, proof, old_root, _flip(new_root, data.draw(bits)))

    extra = data.draw(st.binary(min_size=HASH_SIZE, max_size=HASH_SIZE), label="extra")
    for bad in ([*proof, extra], [extra, *proof], proof[:-1], proof[1:]):
        if bad != proof:
            with pytest.raises(ProofError, match="hashes, want"):
                verify_consistency(old, new, bad, old_root, new_root)

    # The proof does not tie other tree sizes together, even with their true roots.
    other_old = data.draw(st.integers(1, new), label="other old")
    if other_old != old:
        with pytest.raises(ProofError):
            verify_consistency(other_old, new, proof, _root(other_old), new_root)
    other_new = data.draw(st.integers(old, MAX_SIZE), label="other new")
    if other_new != new:
        with pytest.raises(ProofError):
            verify_consistency(old, other_new, proof, old_root, _root(other_new))


@settings(max_examples=100, deadline=None)
@given(size=st.one_of(st.integers(0, 70), sizes))
def test_tree_hash_from_reader_equals_tree_hash(size: int) -> None:
    leaves, store = _tree()
    reader = CountingReader(store)
    assert tree_hash_from_reader(size, reader) == tree_hash(leaves[:size])
    assert len(reader.calls) == (1 if size else 0)
    assert all(call == sorted(set(call)) for call in reader.calls)


class ListReader:
    """A HashReader over a plain list of stored hashes that records every call it gets."""

    def __init__(self, hashes: list[bytes]) -> None:
        self.hashes = hashes
        self.calls: list[list[int]] = []

    def read_hashes(self, indexes: Sequence[int]) -> list[bytes]:
        self.calls.append(list(indexes))
        return [self.hashes[i] for i in indexes]


def test_stored_hashes_grow_as_go_tlog_counts_them() -> None:
    leaves, store = _tree()
    hashes: list[bytes] = []
    for n in range(600):
        assert len(hashes) == stored_hash_count(n) == stored_hash_index(0, n)
        reader = ListReader(hashes)
        new = stored_hashes(n, leaves[n], reader)
        # Leaf n is stored with one hash per perfect subtree it completes.
        assert len(new) == 1 + ((n + 1) & -(n + 1)).bit_length() - 1
        assert len(reader.calls) == (1 if len(new) > 1 else 0)
        assert all(call == sorted(set(call)) for call in reader.calls)
        hashes.extend(new)
    assert hashes == store.hashes[: len(hashes)]


@settings(max_examples=300, deadline=None)
@given(level=st.integers(0, 63), n=st.integers(0, 2**40))
def test_split_stored_hash_index_inverts_stored_hash_index(level: int, n: int) -> None:
    assert split_stored_hash_index(stored_hash_index(level, n)) == (level, n)


def test_every_stored_hash_index_splits_and_rejoins() -> None:
    for index in range(5000):
        assert stored_hash_index(*split_stored_hash_index(index)) == index


# -- Refusals with reasons ------------------------------------------------------------------------

H = leaf_hash(b"x")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((H, -1, 1, [], H), "leaf index -1 is negative"),
        ((H, 0, -1, [], H), "tree size -1 is negative"),
        ((H, 1, 1, [], H), "leaf index 1 is beyond the tree of size 1"),
        ((H, 0, 0, [], EMPTY_ROOT), "leaf index 0 is beyond the tree of size 0"),
        ((H, True, 2, [H], H), "leaf index must be an integer, not bool"),
        ((H, 0, 2.0, [H], H), "tree size must be an integer, not float"),
        ((H[:31], 0, 1, [], H), "leaf hash is 31 bytes, want 32"),
        ((H, 0, 1, [], H + b"\0"), "root hash is 33 bytes, want 32"),
        ((H, 0, 2, [b""], H), "proof hash 0 is 0 bytes, want 32"),
        ((H, 0, 2, ["a" * 32], H), "proof hash 0 must be bytes, not str"),
        ((H, 0, 2, [], H), "inclusion proof has 0 hashes, want 1"),
        ((H, 0, 1, [H], H), "inclusion proof has 1 hashes, want 0"),
        ((H, 0, 1, [], EMPTY_ROOT), "leads to root"),
    ],
)
def test_verify_inclusion_says_why(args: tuple, message: str) -> None:
    with pytest.raises(ProofError, match=message):
        verify_inclusion(*args)
    verify_inclusion(H, 0, 1, [], H)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((-1, 1, [], H, H), "old tree size -1 is negative"),
        ((2, 1, [], H, H), "old tree size 2 is larger than new tree size 1"),
        ((0, 1, [], EMPTY_ROOT, H), "no consistency proof from the empty tree"),
        ((0, 0, [], H, H), "root hash of the empty tree"),
        ((0, 0, [H], EMPTY_ROOT, EMPTY_ROOT), "has 1 hashes, want 0"),
        ((3, 3, [], H, EMPTY_ROOT), "two trees of size 3 have different root hashes"),
        ((1, 2, [], H, H), "consistency proof has 0 hashes, want 1"),
        ((1, 2, [H], H, b"short"), "new root hash is 5 bytes, want 32"),
    ],
)
def test_verify_consistency_says_why(args: tuple, message: str) -> None:
    with pytest.raises(ProofError, match=message):
        verify_consistency(*args)
    verify_consistency(0, 0, [], EMPTY_ROOT, EMPTY_ROOT)
    verify_consistency(5, 5, [], H, H)


def test_proof_generation_refuses_impossible_trees() -> None:
    _, store = _tree()
    with pytest.raises(ProofError, match="beyond the tree of size 5"):
        inclusion_proof(5, 5, store)
    with pytest.raises(ProofError, match="negative"):
        inclusion_proof(-1, 5, store)
    with pytest.raises(ProofError, match="larger than new tree size"):
        consistency_proof(6, 5, store)
    with pytest.raises(ProofError, match="empty tree"):
        consistency_proof(0, 5, store)
    assert consistency_proof(0, 0, store) == []
    assert consistency_proof(5, 5, store) == []
    with pytest.raises(ProofError, match="negative"):
        stored_hash_index(0, -1)


def test_a_reader_that_misbehaves_is_an_error() -> None:
    class ShortReader:
        def read_hashes(self, indexes: Sequence[int]) -> list[bytes]:
            return [H] * (len(indexes) - 1)

    class BadHashReader:
        def read_hashes(self, indexes: Sequence[int]) -> list[bytes]:
            return [H[:16]] * len(indexes)

    with pytest.raises(LedgerError, match="returned 2 hashes for 3 indexes"):
        inclusion_proof(0, 5, ShortReader())
    with pytest.raises(LedgerError, match="returned 16 bytes"):
        tree_hash_from_reader(3, BadHashReader())
    with pytest.raises(LedgerError, match="not among the 0 stored hashes"):
        MemoryHashStore().read_hashes([0])


def test_proof_error_is_reexported() -> None:
    assert merkle.ProofError is ProofError
    assert issubclass(ProofError, ValueError)


def test_equal_trees_compare_roots_as_given() -> None:
    """For two trees of one size the proof is empty and the roots must be equal; like the
    transparency-dev verifier (and its vector with 12-byte "roots"), the roots are compared as
    given. Proofs between trees of different sizes still need 32-byte hashes."""
    verify_consistency(1, 1, [], b"don't care 2", b"don't care 2")
    with pytest.raises(ProofError, match="different root hashes"):
        verify_consistency(1, 1, [], b"don't care 2", b"don't care 3")
    with pytest.raises(ProofError, match="12 bytes"):
        verify_consistency(1, 2, [b"x" * 32], b"don't care 2", b"y" * 32)

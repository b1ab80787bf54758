"""Signing keys, key ids and the signature document."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from wfpkg.errors import SignatureError, WfpkgError
from wfpkg.keys import (
    DOMAIN,
    generate_private_key,
    key_id,
    load_private_key,
    load_public_key,
    parse_signature,
    public_key_text,
    sign_manifest,
    signature_bytes,
    verify_manifest_signature,
    write_private_key,
)


def test_private_key_file_is_0600_and_round_trips(tmp_path: Path) -> None:
    key = generate_private_key()
    path = tmp_path / "sub" / "signing.key"
    write_private_key(path, key)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert key_id(load_private_key(path).public_key()) == key_id(key.public_key())


def test_write_private_key_refuses_to_overwrite_unless_forced(tmp_path: Path) -> None:
    path = tmp_path / "k"
    write_private_key(path, generate_private_key())
    with pytest.raises(WfpkgError, match="already exists"):
        write_private_key(path, generate_private_key())
    write_private_key(path, generate_private_key(), force=True)


def test_key_id_is_sha256_of_raw_public_key() -> None:
    pub = generate_private_key().public_key()
    raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert key_id(pub) == hashlib.sha256(raw).hexdigest()[:32]


def test_public_key_text_is_one_pem_block_that_loads_back(tmp_path: Path) -> None:
    pub = generate_private_key().public_key()
    text = public_key_text(pub)
    assert text.startswith("-----BEGIN PUBLIC KEY-----") and text.count("BEGIN") == 1
    (tmp_path / "k.pub").write_text(text)
    for source in (text, text.encode(), tmp_path / "k.pub"):
        assert key_id(load_public_key(source)) == key_id(pub)


def test_load_public_key_rejects_other_algorithms_and_garbage() -> None:
    ec_pub = ec.generate_private_key(ec.SECP256R1()).public_key()
    pem = ec_pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    with pytest.raises(SignatureError, match="not an Ed25519 public key"):
        load_public_key(pem)
    with pytest.raises(SignatureError, match="not a PEM public key"):
        load_public_key("hello")


def test_signature_is_domain_separated() -> None:
    key = generate_private_key()
    sig = sign_manifest(key, b"manifest")
    verify_manifest_signature(key.public_key(), b"manifest", sig)
    key.public_key().verify(sig, DOMAIN + b"manifest")  # the documented message
    assert key.sign(b"manifest") != sig
    with pytest.raises(SignatureError, match="does not verify"):
        verify_manifest_signature(key.public_key(), b"manifest!", sig)
    with pytest.raises(SignatureError, match="does not verify"):
        verify_manifest_signature(key.public_key(), b"manifest", key.sign(b"manifest"))


def test_signature_document_round_trips_and_is_strict() -> None:
    key = generate_private_key()
    info = parse_signature(signature_bytes(key, b"m"))
    assert info.algorithm == "ed25519" and info.key_id == key_id(key.public_key())
    verify_manifest_signature(key.public_key(), b"m", info.signature)
    for bad, why in (
        (b"{}", "exactly algorithm"),
        (b'{"algorithm": "rsa", "key_id": "' + b"0" * 32 + b'", "signature": ""}', "unsupported"),
        (b'{"algorithm": "ed25519", "key_id": "xyz", "signature": ""}', "key_id"),
        (b'{"algorithm": "ed25519", "key_id": "' + b"0" * 32 + b'", "signature": "AA=="}', "64"),
        (b'{"algorithm": "ed25519", "key_id": "' + b"0" * 32 + b'", "signature": "!!"}', "base64"),
    ):
        with pytest.raises(SignatureError, match=why):
            parse_signature(bad)


def test_a_private_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "key.pem"
    write_private_key(path, generate_private_key())
    path.chmod(0o644)
    with pytest.raises(WfpkgError, match=r"readable by others \(mode 0644\); run `chmod 600 "):
        load_private_key(path)
    path.chmod(0o600)
    load_private_key(path)

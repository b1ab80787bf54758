"""Ed25519 signing keys, key ids, and the ``signature`` member of a `.wfpkg`.

A package is signed by signing the exact bytes of its ``manifest.toml``
prefixed with `DOMAIN`, so the signature can never be replayed as a signature
of anything else. The ``signature`` member is a small JSON document::

    {"algorithm": "ed25519", "key_id": "<32 hex>", "signature": "<base64>"}

See ``docs/package-format.md`` for the normative description.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .errors import SignatureError, WfpkgError

__all__ = [
    "ALGORITHM",
    "DOMAIN",
    "SignatureInfo",
    "default_key_path",
    "generate_private_key",
    "key_id",
    "load_private_key",
    "load_public_key",
    "parse_signature",
    "public_key_text",
    "sign_manifest",
    "signature_bytes",
    "verify_manifest_signature",
    "write_private_key",
]

DOMAIN: Final = b"wfpkg-manifest-signature-v1\x00"
ALGORITHM: Final = "ed25519"
_KEY_ID_HEX: Final = 32
_MAX_SIGNATURE_DOC: Final = 4096


def default_key_path() -> Path:
    """``$WFPKG_KEY`` if set, else ``~/.config/wfpkg/signing.key``."""
    env = os.environ.get("WFPKG_KEY")
    return Path(env) if env else Path.home() / ".config" / "wfpkg" / "signing.key"


def generate_private_key() -> Ed25519PrivateKey:
    """A new random Ed25519 signing key."""
    return Ed25519PrivateKey.generate()


def write_private_key(path: Path, key: Ed25519PrivateKey, *, force: bool = False) -> None:
    """Write ``key`` as unencrypted PKCS#8 PEM, mode 0600, atomically.

    Raises:
        WfpkgError: the file exists and ``force`` is false.
    """
    path = Path(path)
    if path.exists() and not force:
        raise WfpkgError(f"{path} already exists; pass --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd, tmp = tempfile.mkstemp(prefix=".wfpkg-key-", dir=path.parent)  # created 0600
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """Read an Ed25519 private key (PEM, PKCS#8, unencrypted).

    Raises:
        WfpkgError: missing, unreadable, readable by others than its owner (as ssh
            refuses such a key), or not an Ed25519 private key.
    """
    path = Path(path)
    try:
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            raise WfpkgError(f"signing key {path} is readable by others (mode {mode:04o}); "
                             f"run `chmod 600 {path}`")
        data = path.read_bytes()
    except OSError as exc:
        raise WfpkgError(f"cannot read signing key {path}: {exc.strerror}; "
                         "create one with `wfpkg keygen`") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise WfpkgError(f"{path} is not an unencrypted PEM private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise WfpkgError(f"{path} holds a {type(key).__name__}, not an Ed25519 private key")
    return key


def public_key_text(pub: Ed25519PublicKey) -> str:
    """The public key as one PEM ``PUBLIC KEY`` (SubjectPublicKeyInfo) block."""
    return pub.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def load_public_key(data: str | bytes | Path) -> Ed25519PublicKey:
    """Parse an Ed25519 public key from PEM text, bytes, or a file holding it.

    Raises:
        SignatureError: not a PEM public key, or not an Ed25519 one.
    """
    source = "public key"
    if isinstance(data, Path):
        source = str(data)
        try:
            data = data.read_bytes()
        except OSError as exc:
            raise SignatureError(f"cannot read public key {source}: {exc.strerror}; give the "
                                 "KEY.pub that `wfpkg keygen` wrote") from None
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    if b"PRIVATE KEY" in raw:
        hint = f" ({source}.pub)" if isinstance(source, str) and source != "public key" else ""
        raise SignatureError(f"{source} is a private key: keep it secret and give its public "
                             f"key instead{hint}")
    try:
        key = serialization.load_pem_public_key(raw)
    except (ValueError, TypeError):
        raise SignatureError(f"{source} is not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise SignatureError(f"{source} is a {type(key).__name__}, not an Ed25519 public key")
    return key


def key_id(pub: Ed25519PublicKey) -> str:
    """First 32 hex digits of the SHA-256 of the raw 32-byte public key."""
    raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:_KEY_ID_HEX]


def sign_manifest(key: Ed25519PrivateKey, manifest_bytes: bytes) -> bytes:
    """The raw 64-byte Ed25519 signature of ``DOMAIN + manifest_bytes``."""
    return key.sign(DOMAIN + manifest_bytes)


def verify_manifest_signature(pub: Ed25519PublicKey, manifest_bytes: bytes, sig: bytes) -> None:
    """Check a raw signature of ``DOMAIN + manifest_bytes``.

    Raises:
        SignatureError: the signature does not verify.
    """
    try:
        pub.verify(sig, DOMAIN + manifest_bytes)
    except InvalidSignature:
        raise SignatureError(
            "signature does not verify over manifest.toml (tampered or signed by another key)",
            "signature",
        ) from None


@dataclass(frozen=True)
class SignatureInfo:
    """The parsed ``signature`` member.

    Attributes:
        algorithm: always ``"ed25519"``.
        key_id: the signer's key id.
        signature: the raw 64-byte signature.
    """

    algorithm: str
    key_id: str
    signature: bytes


def signature_bytes(key: Ed25519PrivateKey, manifest_bytes: bytes) -> bytes:
    """The complete ``signature`` member for ``manifest_bytes`` signed by ``key``."""
    doc = {
        "algorithm": ALGORITHM,
        "key_id": key_id(key.public_key()),
        "signature": base64.b64encode(sign_manifest(key, manifest_bytes)).decode("ascii"),
    }
    return (json.dumps(doc, sort_keys=True) + "\n").encode("utf-8")


def parse_signature(data: bytes) -> SignatureInfo:
    """Parse the ``signature`` member strictly.

    Raises:
        SignatureError: naming member ``signature`` and what is wrong.
    """

    def bad(reason: str) -> SignatureError:
        return SignatureError(reason, "signature")

    if len(data) > _MAX_SIGNATURE_DOC:
        raise bad("signature document is too large")
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise bad("signature is not a JSON document") from None
    if not isinstance(doc, dict) or set(doc) != {"algorithm", "key_id", "signature"}:
        raise bad("signature must be a JSON object with exactly algorithm, key_id, signature")
    if doc["algorithm"] != ALGORITHM:
        raise bad(f"unsupported signature algorithm {doc['algorithm']!r} (expected 'ed25519')")
    kid = doc["key_id"]
    if not isinstance(kid, str) or len(kid) != _KEY_ID_HEX or not set(kid) <= set("0123456789abcdef"):
        raise bad("key_id is not 32 lowercase hex digits")
    if not isinstance(doc["signature"], str):
        raise bad("signature value is not a base64 string")
    try:
        raw = base64.b64decode(doc["signature"], validate=True)
    except (binascii.Error, ValueError):
        raise bad("signature value is not valid base64") from None
    if len(raw) != 64:
        raise bad(f"signature is {len(raw)} bytes, an Ed25519 signature is 64")
    return SignatureInfo(ALGORITHM, kid, raw)

"""Keys and built sample packages for tests.

`build_sample` builds ``sample_packages/NAME`` for real (pip wheel, the
introspection subprocess, signing) the first time a given source and version
is asked for in a test session, and re-signs that build for any other key:
the result is byte-identical to a fresh build with that key, because the
build is reproducible and Ed25519 signatures are deterministic.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import re
import shutil
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from wfpkg.archive import MANIFEST, SIGNATURE, write_archive
from wfpkg.build import build_package, source_files
from wfpkg.keys import generate_private_key, key_id, public_key_text, signature_bytes, write_private_key
from wfpkg.manifest import Manifest

__all__ = ["REPO", "SAMPLES", "TestKey", "build_sample", "make_key", "members_of", "resign"]

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "sample_packages"
_CACHE: Path | None = None


@dataclass(frozen=True)
class TestKey:
    """A signing key written to disk, as `wfpkg keygen` writes it.

    Attributes:
        private: the private key object.
        path: the private key file (mode 0600).
        pub_path: the public key file (``path`` + ``.pub``).
    """

    __test__ = False  # not a pytest test class

    private: Ed25519PrivateKey
    path: Path
    pub_path: Path

    @property
    def public(self) -> Ed25519PublicKey:
        """The public key."""
        return self.private.public_key()

    @property
    def key_id(self) -> str:
        """The key id."""
        return key_id(self.public)

    @property
    def trusted(self) -> dict[str, Ed25519PublicKey]:
        """``{key_id: public key}``, as `verify_archive` takes it."""
        return {self.key_id: self.public}


def make_key(tmp_path: Path, name: str = "signing") -> TestKey:
    """Create a key pair under ``tmp_path/keys``."""
    private = generate_private_key()
    path = tmp_path / "keys" / f"{name}.key"
    write_private_key(path, private)
    pub_path = path.with_name(path.name + ".pub")
    pub_path.write_text(public_key_text(private.public_key()), encoding="ascii")
    return TestKey(private, path, pub_path)


def _cache_dir() -> Path:
    global _CACHE
    if _CACHE is None:
        _CACHE = Path(tempfile.mkdtemp(prefix="wfpkg-test-builds-"))
        atexit.register(shutil.rmtree, _CACHE, True)
    return _CACHE


def members_of(archive: Path) -> dict[str, bytes]:
    """Every member of a (trusted, test-made) archive by name."""
    with zipfile.ZipFile(archive) as zf:
        return {info.filename: zf.read(info) for info in zf.infolist()}


def resign(archive: Path, key: Ed25519PrivateKey, out: Path) -> Path:
    """Write ``archive`` re-signed by ``key`` to ``out`` (manifest key id updated)."""
    members = members_of(archive)
    manifest = Manifest.from_bytes(members[MANIFEST])
    build_time = time.strptime(manifest.build_time, "%Y-%m-%dT%H:%M:%SZ")
    doc = manifest.to_dict()
    doc["package"]["key_id"] = key_id(key.public_key())
    manifest_bytes = Manifest.from_dict(doc).to_bytes()
    members[MANIFEST] = manifest_bytes
    members[SIGNATURE] = signature_bytes(key, manifest_bytes)
    write_archive(out, members, tuple(build_time[:6]))  # type: ignore[arg-type]
    return out


def _prepare_source(name: str, version: str | None, dest: Path) -> Path:
    src = SAMPLES / name
    if not (src / "pyproject.toml").is_file():
        raise FileNotFoundError(f"no sample package {name!r} in {SAMPLES}")
    copy = dest / name
    for rel in source_files(src):
        (copy / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src / rel, copy / rel)
    if version is not None:
        pyproject = copy / "pyproject.toml"
        stat = pyproject.stat()
        text = re.sub(r'(?m)^version\s*=\s*"[^"]*"', f'version = "{version}"',
                      pyproject.read_text(encoding="utf-8"), count=1)
        pyproject.write_text(text, encoding="utf-8")
        os.utime(pyproject, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # keep the build time stable
    return copy


def _source_digest(src: Path) -> str:
    digest = hashlib.sha256()
    for rel in source_files(src):
        path = src / rel
        digest.update(rel.as_posix().encode() + b"\0" + str(path.stat().st_mtime_ns).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:24]


def build_sample(
    name: str,
    key: TestKey | Ed25519PrivateKey,
    out_dir: Path,
    version: str | None = None,
) -> Path:
    """Build ``sample_packages/NAME`` (optionally at another version), signed by ``key``.

    Returns:
        ``out_dir/NAME-VERSION.wfpkg``.
    """
    private = key.private if isinstance(key, TestKey) else key
    cache = _cache_dir()
    staging = Path(tempfile.mkdtemp(prefix="src-", dir=cache))
    src = _prepare_source(name, version, staging)
    slot = cache / f"{name}-{_source_digest(src)}"
    if not slot.is_dir():
        built = build_package(src, private, staging / "dist")
        tmp_slot = Path(tempfile.mkdtemp(prefix="slot-", dir=cache))
        shutil.copy2(built, tmp_slot / built.name)
        os.replace(tmp_slot, slot) if not slot.exists() else shutil.rmtree(tmp_slot)
    shutil.rmtree(staging, ignore_errors=True)
    (cached,) = slot.glob("*.wfpkg")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return resign(cached, private, out_dir / cached.name)

"""Writing and reading `.wfpkg` archives.

A `.wfpkg` is a zip holding exactly ``manifest.toml``, ``metadata.json``,
``signature`` and ``wheels/*.whl``. `write_archive` writes one reproducibly;
`verify_archive` reads one into memory once, checks everything (structure,
limits, names, signature, trust, hashes) and only then hands the bytes out.
Nothing is extracted or imported here. See ``docs/package-format.md``.

Example::

    pkg = verify_archive(Path("dist/data_processing-1.0.0.wfpkg"), {key_id(pub): pub})
    for name, data in pkg.wheels:
        ...
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import stat
import struct
import tempfile
import types
import unicodedata
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, NamedTuple

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from .errors import ArchiveError, ManifestError, SignatureError
from .keys import SignatureInfo, parse_signature, verify_manifest_signature
from .manifest import Manifest, Metadata

__all__ = [
    "DEFAULT_LIMITS",
    "FIXED_MEMBERS",
    "Limits",
    "MANIFEST",
    "METADATA",
    "SIGNATURE",
    "UnverifiedPackage",
    "VerifiedPackage",
    "read_archive_unverified",
    "verify_archive",
    "verify_archive_bytes",
    "write_archive",
]

MANIFEST: Final = "manifest.toml"
METADATA: Final = "metadata.json"
SIGNATURE: Final = "signature"
WHEELS_DIR: Final = "wheels/"
FIXED_MEMBERS: Final = (MANIFEST, METADATA, SIGNATURE)
_MiB: Final = 1024 * 1024
_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")
_LOCAL_MAGIC: Final = b"PK\x03\x04"
_DRIVE = re.compile(r"^[A-Za-z]:")
_WHEEL_MEMBER = re.compile(r"wheels/[^/]+\.whl")


@dataclass(frozen=True)
class Limits:
    """Bounds an archive must stay within; the defaults are the format's limits.

    Attributes:
        max_archive_bytes: size of the archive file.
        max_members: number of members.
        max_member_bytes: uncompressed size of one member.
        max_total_bytes: uncompressed size of all members together.
        max_ratio: uncompressed/compressed ratio of one member ...
        ratio_floor: ... checked only for members larger than this.
        max_name_length: characters in a member name.
    """

    max_archive_bytes: int = 256 * _MiB
    max_members: int = 1000
    max_member_bytes: int = 256 * _MiB
    max_total_bytes: int = 512 * _MiB
    max_ratio: int = 100
    ratio_floor: int = 1 * _MiB
    max_name_length: int = 255


DEFAULT_LIMITS: Final = Limits()


@dataclass(frozen=True)
class VerifiedPackage:
    """An archive whose every check passed; its bytes, read once.

    Attributes:
        manifest: the signed manifest.
        metadata: the build facts (hashed by the manifest).
        key_id: the id of the trusted key that signed it.
        sha256: hex SHA-256 of the whole archive file.
        members: every member's bytes by name (read-only).
        wheels: ``(file name under wheels/, bytes)``, sorted by name.
        data: the whole archive's bytes, exactly as verified (what a package store keeps).
    """

    manifest: Manifest
    metadata: Metadata
    key_id: str
    sha256: str
    members: Mapping[str, bytes]
    wheels: list[tuple[str, bytes]]
    data: bytes


class UnverifiedPackage(NamedTuple):
    """What `read_archive_unverified` returns: checked structure and hashes, unchecked trust."""

    manifest: Manifest
    metadata: Metadata
    signature: SignatureInfo
    sizes: dict[str, int]


# -- writing ---------------------------------------------------------------------------


def write_archive(
    path: Path,
    members: Mapping[str, bytes],
    date_time: tuple[int, int, int, int, int, int] = (1980, 1, 1, 0, 0, 0),
) -> None:
    """Write a zip reproducibly and atomically (temp file in the same folder, then rename).

    Members are written in sorted order, with one fixed timestamp, mode 0644,
    Unix as the creating system and DEFLATE level 9: equal inputs give
    byte-identical files.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    date_time = max(date_time, (1980, 1, 1, 0, 0, 0))
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh, zipfile.ZipFile(fh, "w") as zf:
            for name in sorted(members):
                info = zipfile.ZipInfo(name, date_time)
                info.create_system = 3
                info.external_attr = (stat.S_IFREG | 0o644) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, members[name], compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# -- reading ---------------------------------------------------------------------------


def verify_archive(
    path: Path,
    trusted: Mapping[str, Ed25519PublicKey],
    *,
    limits: Limits = DEFAULT_LIMITS,
) -> VerifiedPackage:
    """Read and fully verify a `.wfpkg`; nothing is extracted.

    Args:
        path: the archive.
        trusted: key id -> public key of every key whose signature is accepted.
        limits: size and count bounds (the format's defaults unless testing).

    Returns:
        The verified package with every member's bytes.

    Raises:
        ArchiveError: naming the member and the reason (structure, limits, names, hashes).
        SignatureError: the signature is malformed, by an untrusted key, or does not verify.
    """
    return verify_archive_bytes(_read_file(Path(path), limits), str(path), trusted, limits=limits)


def verify_archive_bytes(
    data: bytes,
    where: str,
    trusted: Mapping[str, Ed25519PublicKey],
    *,
    limits: Limits = DEFAULT_LIMITS,
) -> VerifiedPackage:
    """`verify_archive` on bytes already in memory (from a package store or an upload).

    Args:
        data: the archive's bytes.
        where: how errors name the archive (a path, ``store:<sha256>``, an upload).
        trusted: key id -> public key of every key whose signature is accepted.
        limits: size and count bounds.

    Raises:
        ArchiveError, SignatureError: as `verify_archive`.
    """
    if not data:
        raise ArchiveError("empty file, not a .wfpkg archive", archive=where)
    if len(data) > limits.max_archive_bytes:
        raise ArchiveError(
            f"archive is {len(data)} bytes, over the limit of {limits.max_archive_bytes}", archive=where)
    members = _read_members(data, where, limits)
    manifest, metadata, sig = _check_documents(members, where, trusted)
    wheels = sorted((n[len(WHEELS_DIR):], b) for n, b in members.items() if n.startswith(WHEELS_DIR))
    return VerifiedPackage(
        manifest=manifest,
        metadata=metadata,
        key_id=sig.key_id,
        sha256=hashlib.sha256(data).hexdigest(),
        members=types.MappingProxyType(dict(members)),
        wheels=wheels,
        data=data,
    )


def read_archive_unverified(path: Path, *, limits: Limits = DEFAULT_LIMITS) -> UnverifiedPackage:
    """Read a `.wfpkg` with every check but trust: for `wfpkg inspect`.

    Structure, limits, names, the member set and every hash are checked, and
    the signature document must parse; whether it verifies, and whether its
    key is trusted, is not checked.

    Raises:
        ArchiveError: as `verify_archive`, except for trust and signature verification.
    """
    where = str(path)
    members = _read_members(_read_file(Path(path), limits), where, limits)
    manifest, metadata, sig = _check_documents(members, where)
    return UnverifiedPackage(manifest, metadata, sig, {n: len(b) for n, b in sorted(members.items())})


def _read_file(path: Path, limits: Limits) -> bytes:
    where = str(path)
    try:
        st = path.stat()
    except OSError as exc:
        raise ArchiveError(f"cannot read archive: {exc.strerror}", archive=where) from None
    if not stat.S_ISREG(st.st_mode):
        raise ArchiveError("not a regular file", archive=where)
    if st.st_size == 0:
        raise ArchiveError("empty file, not a .wfpkg archive", archive=where)
    if st.st_size > limits.max_archive_bytes:
        raise ArchiveError(
            f"archive is {st.st_size} bytes, over the limit of {limits.max_archive_bytes}", archive=where
        )
    with path.open("rb") as fh:
        data = fh.read(limits.max_archive_bytes + 1)
    if len(data) > limits.max_archive_bytes:  # grew while we read it
        raise ArchiveError(f"archive is over the limit of {limits.max_archive_bytes} bytes", archive=where)
    return data


def _raw_name(info: zipfile.ZipInfo) -> bytes:
    encoding = "utf-8" if info.flag_bits & 0x800 else "cp437"
    return info.orig_filename.encode(encoding)


def _name_key(name: str) -> str:
    return unicodedata.normalize("NFKC", name).casefold()


def _name_problem(name: str, limits: Limits) -> str | None:
    if not name:
        return "empty member name"
    if "\x00" in name:
        return "member name contains a NUL byte"
    if len(name) > limits.max_name_length:
        return f"member name is {len(name)} characters, over the limit of {limits.max_name_length}"
    if "\\" in name:
        return "member name contains a backslash"
    if name.startswith("/"):
        return "absolute member name"
    if _DRIVE.match(name):
        return "member name starts with a drive letter"
    if any(part in ("", ".", "..") for part in name.rstrip("/").split("/")):
        return "member name has an empty, '.' or '..' path segment (path escape)"
    if any(unicodedata.category(c) == "Cc" for c in name):
        return "member name contains a control character"
    if unicodedata.normalize("NFC", name) != name:
        return "member name is not NFC-normalized Unicode"
    return None


def _read_members(data: bytes, where: str, limits: Limits) -> dict[str, bytes]:
    """Check the zip structure and every member, then inflate each one under the limits."""

    def fail(reason: str, member: str | None = None) -> ArchiveError:
        return ArchiveError(reason, member, archive=where)

    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as exc:
        raise fail(f"not a zip archive ({exc})") from None
    with zf:
        infos = zf.infolist()
    if len(infos) > limits.max_members:
        raise fail(f"archive has {len(infos)} members, over the limit of {limits.max_members}")
    if not infos:
        raise fail("archive has no members")
    seen: dict[str, str] = {}
    for info in infos:
        name = info.orig_filename
        key = _name_key(name)
        if key in seen:
            other = seen[key]
            how = "appears twice" if other == name else (
                f"duplicates {other!r} (names differ only in case or Unicode normalization)")
            raise fail(f"member name {how}", name)
        seen[key] = name
    total = 0
    for info in infos:
        name = info.orig_filename
        problem = _name_problem(name, limits)
        if problem:
            raise fail(problem, name)
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise fail("symbolic link members are not allowed", name)
        if info.is_dir() or stat.S_ISDIR(mode):
            raise fail("directory entries are not allowed", name)
        if stat.S_IFMT(mode) not in (0, stat.S_IFREG):
            raise fail("only regular file members are allowed", name)
        if info.flag_bits & 0x1:
            raise fail("encrypted members are not allowed", name)
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise fail(f"compression method {info.compress_type} is not allowed (stored or deflate only)", name)
        if not (name in FIXED_MEMBERS or _WHEEL_MEMBER.fullmatch(name)):
            raise fail(
                "unexpected member: a .wfpkg holds only manifest.toml, metadata.json, "
                "signature and wheels/*.whl", name)
        if info.file_size > limits.max_member_bytes:
            raise fail(
                f"declared size {info.file_size} bytes is over the limit of {limits.max_member_bytes} (zip bomb?)",
                name)
        total += info.file_size
    if total > limits.max_total_bytes:
        raise fail(f"members declare {total} bytes uncompressed in all, over the limit of "
                   f"{limits.max_total_bytes} (zip bomb?)")
    for info in infos:
        if info.file_size > limits.ratio_floor and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            raise fail(
                f"compression ratio {info.file_size // max(info.compress_size, 1)}:1 is over the limit "
                f"of {limits.max_ratio}:1 (zip bomb?)", info.orig_filename)
    members: dict[str, bytes] = {}
    spans: list[tuple[int, int, str]] = []
    for info in infos:
        name = info.orig_filename
        start = _check_local_header(data, info, where)
        end = start + info.compress_size
        if end > len(data):
            raise fail("member data runs past the end of the archive", name)
        spans.append((info.header_offset, end, name))
        members[name] = _inflate(info, data[start:end], where)
    spans.sort()
    for (_, end, name), (nxt, _, other) in zip(spans, spans[1:], strict=False):
        if end > nxt:
            raise fail(f"member data overlaps member {other!r} (zip bomb?)", name)
    return members


def _check_local_header(data: bytes, info: zipfile.ZipInfo, where: str) -> int:
    """Check the local file header agrees with the central directory; return where data starts."""
    name = info.orig_filename
    off = info.header_offset
    if off < 0 or off + _LOCAL_HEADER.size > len(data):
        raise ArchiveError("local file header lies outside the archive", name, archive=where)
    magic, _ver, flags, method, _t, _d, _crc, _cs, _us, nlen, elen = _LOCAL_HEADER.unpack_from(data, off)
    if magic != _LOCAL_MAGIC:
        raise ArchiveError("no local file header at the offset the central directory gives", name, archive=where)
    local_name = data[off + _LOCAL_HEADER.size: off + _LOCAL_HEADER.size + nlen]
    if local_name != _raw_name(info):
        shown = local_name.decode("utf-8", "replace")
        raise ArchiveError(f"local file header names {shown!r}, central directory names it differently",
                           name, archive=where)
    if flags & 0x1:
        raise ArchiveError("encrypted members are not allowed", name, archive=where)
    if method != info.compress_type:
        raise ArchiveError("local file header and central directory disagree on compression", name, archive=where)
    return off + _LOCAL_HEADER.size + int(nlen) + int(elen)


def _inflate(info: zipfile.ZipInfo, raw: bytes, where: str) -> bytes:
    """Decompress one member, never producing more than its declared size."""
    name = info.orig_filename
    declared = info.file_size
    if info.compress_type == zipfile.ZIP_STORED:
        out = raw
    else:
        inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        try:
            out = inflater.decompress(raw, declared + 1)
        except zlib.error as exc:
            raise ArchiveError(f"corrupt compressed data ({exc})", name, archive=where) from None
        if len(out) > declared or inflater.unconsumed_tail:
            raise ArchiveError(f"decompresses to more than its declared {declared} bytes (zip bomb?)",
                               name, archive=where)
        if not inflater.eof:
            raise ArchiveError("compressed data is truncated", name, archive=where)
    if len(out) != declared:
        raise ArchiveError(f"holds {len(out)} bytes, the central directory says {declared}", name, archive=where)
    if zlib.crc32(out) != info.CRC:
        raise ArchiveError("CRC-32 mismatch (corrupted)", name, archive=where)
    return out


def _check_documents(
    members: Mapping[str, bytes], where: str, trusted: Mapping[str, Ed25519PublicKey] | None = None
) -> tuple[Manifest, Metadata, SignatureInfo]:
    """Check signature (and trust, unless ``trusted`` is None), manifest, member set, hashes.

    The signature is verified before manifest.toml is parsed, so a forged
    manifest never reaches the TOML parser.
    """
    for required in (MANIFEST, SIGNATURE):
        if required not in members:
            raise ArchiveError("required member is missing", required, archive=where)
    try:
        sig = parse_signature(members[SIGNATURE])
    except SignatureError as exc:
        raise SignatureError(exc.reason, SIGNATURE, archive=where) from None
    if trusted is not None:
        public = trusted.get(sig.key_id)
        if public is None:
            raise SignatureError(
                f"signed by key {sig.key_id} which is not trusted "
                "(trust its public key, or use a package signed by a trusted key)",
                SIGNATURE, archive=where)
        try:
            verify_manifest_signature(public, members[MANIFEST], sig.signature)
        except SignatureError as exc:
            raise SignatureError(exc.reason, SIGNATURE, archive=where) from None
    try:
        manifest = Manifest.from_bytes(members[MANIFEST])
    except ManifestError as exc:
        raise ArchiveError(str(exc), MANIFEST, archive=where) from None
    if manifest.key_id != sig.key_id:
        raise SignatureError(
            f"signature is by key {sig.key_id} but manifest.toml names key {manifest.key_id}",
            SIGNATURE, archive=where)
    listed = {f.path: f for f in manifest.files}
    for path in sorted(listed):
        if path in (MANIFEST, SIGNATURE) or not (path == METADATA or _WHEEL_MEMBER.fullmatch(path)):
            raise ArchiveError("manifest.toml lists a file that may not be in a .wfpkg", path, archive=where)
    expected = set(listed) | {MANIFEST, SIGNATURE}
    for name in sorted(set(members) - expected):
        raise ArchiveError("extra member not listed in manifest.toml", name, archive=where)
    for name in sorted(expected - set(members)):
        raise ArchiveError("member listed in manifest.toml is missing", name, archive=where)
    for path, entry in sorted(listed.items()):
        data = members[path]
        if len(data) != entry.size:
            raise ArchiveError(f"size {len(data)} differs from manifest.toml ({entry.size})", path, archive=where)
        if hashlib.sha256(data).hexdigest() != entry.sha256:
            raise ArchiveError("SHA-256 differs from manifest.toml (tampered or corrupted)", path, archive=where)
        if path.startswith(WHEELS_DIR):
            try:
                parse_wheel_filename(path[len(WHEELS_DIR):])
            except InvalidWheelFilename:
                raise ArchiveError("not a valid wheel file name", path, archive=where) from None
    if METADATA not in members:
        raise ArchiveError("required member is missing", METADATA, archive=where)
    try:
        metadata = Metadata.from_bytes(members[METADATA])
        metadata.check_against(manifest)
    except ManifestError as exc:
        raise ArchiveError(str(exc), METADATA, archive=where) from None
    return manifest, metadata, sig

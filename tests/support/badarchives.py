"""A corpus of hostile or broken `.wfpkg` archives, made from one good archive.

`bad_archives` returns ``(case, path, expected)`` triples: each archive must
be rejected, with an error message containing ``expected``. The bytes are
made with `zipfile` where it can write them, and patched with `struct` where
it cannot (NUL in names, lying sizes, flags, local header names).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import stat
import struct
import unicodedata
import warnings
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from wfpkg.keys import generate_private_key, key_id, sign_manifest, signature_bytes
from wfpkg.manifest import Manifest, Metadata

__all__ = ["BadCase", "bad_archives", "patch_central", "zip_bytes"]

_CD = struct.Struct("<4s6H3I5H2I")  # central directory file header, 46 bytes


class BadCase(NamedTuple):
    """One rejected archive: its name, its file, and a substring the error must contain."""

    case: str
    path: Path
    expected: str


Entry = tuple[str | zipfile.ZipInfo, bytes]


def zip_bytes(entries: Iterable[Entry], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    """Zip ``(name or ZipInfo, data)`` pairs in order, duplicates allowed."""
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Duplicate name" is the point of some cases
        with zipfile.ZipFile(buf, "w", compression=method) as zf:
            for name, data in entries:
                zf.writestr(name, data)
    return buf.getvalue()


def _central_entries(data: bytes) -> list[int]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        start = zf.start_dir  # type: ignore[attr-defined]
    offsets, pos = [], start
    while data[pos:pos + 4] == b"PK\x01\x02":
        offsets.append(pos)
        fields = _CD.unpack_from(data, pos)
        pos += _CD.size + fields[10] + fields[11] + fields[12]
    return offsets


def patch_central(data: bytes, name: str, *, flags_or: int = 0, file_size: int | None = None) -> bytes:
    """Change one member's central directory entry: set flag bits, or lie about its size."""
    out = bytearray(data)
    for pos in _central_entries(data):
        nlen = struct.unpack_from("<H", data, pos + 28)[0]
        if data[pos + 46:pos + 46 + nlen] == name.encode("utf-8"):
            flags = struct.unpack_from("<H", data, pos + 8)[0]
            struct.pack_into("<H", out, pos + 8, flags | flags_or)
            if file_size is not None:
                struct.pack_into("<I", out, pos + 24, file_size)
            return bytes(out)
    raise KeyError(name)


def _replace_name(data: bytes, old: str, new: bytes, *, local_only: bool = False) -> bytes:
    """Rename a member in place (same length) in its local header and/or central directory."""
    raw = old.encode("utf-8")
    assert len(raw) == len(new)
    if local_only:
        at = data.index(b"PK\x03\x04")
        at = data.index(raw, at)
        return data[:at] + new + data[at + len(raw):]
    return data.replace(raw, new)


def _signed(members: dict[str, bytes], manifest: Manifest, key: Ed25519PrivateKey) -> dict[str, bytes]:
    out = dict(members)
    out["manifest.toml"] = manifest.to_bytes()
    out["signature"] = signature_bytes(key, out["manifest.toml"])
    return out


def _with_files(manifest: Manifest, members: dict[str, bytes], **changes: str) -> Manifest:
    doc = manifest.to_dict()
    doc["package"].update(changes)
    doc["files"] = [
        {"path": n, "size": len(b), "sha256": hashlib.sha256(b).hexdigest()}
        for n, b in sorted(members.items()) if n not in ("manifest.toml", "signature")
    ]
    return Manifest.from_dict(doc)


def bad_archives(good: Path, key: Ed25519PrivateKey, out_dir: Path) -> list[BadCase]:
    """Make every attack from ``good`` (signed by ``key``, which the verifier trusts).

    Args:
        good: a valid archive.
        key: its signing key; verification is expected to trust only this key.
        out_dir: where the bad archives are written.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(good) as zf:
        members = {i.filename: zf.read(i) for i in zf.infolist()}
    manifest = Manifest.from_bytes(members["manifest.toml"])
    wheel = next(n for n in members if n.startswith("wheels/"))
    other = generate_private_key()
    cases: list[BadCase] = []

    def add(case: str, data: bytes, expected: str) -> None:
        path = out_dir / f"{case}.wfpkg"
        path.write_bytes(data)
        cases.append(BadCase(case, path, expected))

    def ordered(ms: dict[str, bytes]) -> list[Entry]:
        return sorted(ms.items())

    # -- integrity -------------------------------------------------------------------
    flipped = bytearray(members[wheel])
    flipped[len(flipped) // 2] ^= 0x01
    add("wheel_byte_changed", zip_bytes(ordered({**members, wheel: bytes(flipped)})),
        f"member '{wheel}': SHA-256 differs")
    raw = bytearray(good.read_bytes())
    at = raw.index(wheel.encode()) + len(wheel) + 200  # inside the wheel's compressed data
    raw[at] ^= 0xFF
    add("archive_byte_changed", bytes(raw), f"member '{wheel}'")
    meta = members["metadata.json"].replace(b"\"builder\": \"wfpkg", b"\"builder\": \"Wfpkg", 1)
    add("metadata_byte_changed", zip_bytes(ordered({**members, "metadata.json": meta})),
        "member 'metadata.json': SHA-256 differs")
    edited = members["manifest.toml"].replace(b'version = "', b'version = "9', 1)
    add("manifest_edited", zip_bytes(ordered({**members, "manifest.toml": edited})),
        "signature does not verify")
    meta_doc = json.loads(members["metadata.json"])
    meta_doc["version"] = "9.9.9"
    lying = {**members, "metadata.json": Metadata(**meta_doc).to_bytes()}
    add("metadata_disagrees_with_manifest",
        zip_bytes(ordered(_signed(lying, _with_files(manifest, lying), key))),
        "metadata.json: version '9.9.9' disagrees")

    # -- signature and trust -----------------------------------------------------------
    add("signed_by_untrusted_key",
        zip_bytes(ordered(_signed(members, _with_files(manifest, members, key_id=key_id(other.public_key())), other))),
        f"signed by key {key_id(other.public_key())} which is not trusted")
    forged = json.dumps({"algorithm": "ed25519", "key_id": key_id(key.public_key()),
                         "signature": base64.b64encode(sign_manifest(other, members["manifest.toml"])).decode()})
    add("signature_from_other_key", zip_bytes(ordered({**members, "signature": forged.encode()})),
        "signature does not verify")
    add("signature_garbage", zip_bytes(ordered({**members, "signature": b"not a signature"})),
        "signature is not a JSON document")
    add("manifest_names_other_key",
        zip_bytes(ordered(_signed(members, _with_files(manifest, members, key_id="0" * 32), key))),
        "manifest.toml names key " + "0" * 32)

    # -- member set ---------------------------------------------------------------------
    add("extra_member", zip_bytes(ordered({**members, "wheels/extra-1.0-py3-none-any.whl": b"PK"})),
        "member 'wheels/extra-1.0-py3-none-any.whl': extra member not listed")
    add("smuggled_sig", zip_bytes(ordered({**members, "manifest.toml.sig": b"sig"})),
        "member 'manifest.toml.sig': unexpected member")
    add("missing_wheel", zip_bytes(ordered({n: b for n, b in members.items() if n != wheel})),
        f"member '{wheel}': member listed in manifest.toml is missing")
    for gone in ("manifest.toml", "signature"):
        add(f"missing_{gone.replace('.', '_')}",
            zip_bytes(ordered({n: b for n, b in members.items() if n != gone})),
            f"member '{gone}': required member is missing")
    add("nested_zip", zip_bytes([*ordered(members), ("payload.zip", zip_bytes([("x.py", b"1")]))]),
        "member 'payload.zip': unexpected member")

    # -- names -----------------------------------------------------------------------------
    for case, name, expected in (
        ("dotdot_name", "wheels/../../evil.whl", "path escape"),
        ("absolute_name", "/etc/evil.whl", "absolute member name"),
        ("drive_letter_name", "C:/evil.whl", "drive letter"),
        ("backslash_name", "C:\\evil.whl", "backslash"),
        ("long_name", "wheels/" + "a" * 300 + ".whl", "over the limit of 255"),
        ("directory_entry", "wheels/", "directory entries are not allowed"),
        ("case_duplicate", "METADATA.json", "differ only in case"),
    ):
        add(case, zip_bytes([*ordered(members), (name, b"x")]), expected)
    add("nul_in_name", _replace_name(zip_bytes([*ordered(members), ("wheels/evilQwhl", b"x")]),
                                     "wheels/evilQwhl", b"wheels/evil\x00whl"), "NUL byte")
    add("duplicate_name", zip_bytes([*ordered(members), ("metadata.json", members["metadata.json"])]),
        "member 'metadata.json': member name appears twice")
    cafe = "wheels/caf\u00e9-1.0-py3-none-any.whl"
    add("unicode_duplicate",
        zip_bytes([*ordered(members), (cafe, b"x"), (unicodedata.normalize("NFD", cafe), b"x")]),
        "Unicode normalization")
    add("not_nfc_name", zip_bytes([*ordered(members), (unicodedata.normalize("NFD", cafe), b"x")]),
        "not NFC-normalized")
    link = zipfile.ZipInfo("wheels/link-1.0-py3-none-any.whl")
    link.create_system = 3
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    add("symlink_member", zip_bytes([*ordered(members), (link, b"/etc/passwd")]), "symbolic link")
    add("local_name_differs",
        _replace_name(good.read_bytes(), "metadata.json", b"metadata.jsoX", local_only=True),
        "local file header names 'metadata.jsoX'")
    add("encrypted_flag", patch_central(good.read_bytes(), "metadata.json", flags_or=0x1),
        "member 'metadata.json': encrypted members are not allowed")

    # -- limits and zip bombs ---------------------------------------------------------------
    bomb = "wheels/bomb-1.0-py3-none-any.whl"
    add("zip_bomb_ratio", zip_bytes([*ordered(members), (bomb, bytes(16 * 1024 * 1024))]),
        "compression ratio")
    add("declared_size_huge", patch_central(good.read_bytes(), wheel, file_size=0xFFFF_FFF0),
        "over the limit of 268435456")
    three = [(f"wheels/big{i}-1.0-py3-none-any.whl", b"x") for i in range(3)]
    data = zip_bytes([*ordered(members), *three])
    for name, _ in three:
        data = patch_central(data, name, file_size=200 * 1024 * 1024)
    add("declared_total_huge", data, "in all, over the limit")
    add("size_lie_inflates_more", patch_central(good.read_bytes(), wheel, file_size=100),
        "decompresses to more than its declared 100 bytes")
    many = [(f"wheels/m{i}-1.0-py3-none-any.whl", b"") for i in range(1001)]
    add("too_many_members", zip_bytes([*ordered(members), *many]), "1005 members, over the limit of 1000")
    huge = out_dir / "archive_too_large.wfpkg"
    with huge.open("wb") as fh:
        fh.write(good.read_bytes())
        fh.truncate(257 * 1024 * 1024)  # sparse: cheap on disk
    cases.append(BadCase("archive_too_large", huge, "over the limit of 268435456"))

    # -- not an archive ---------------------------------------------------------------------
    add("not_a_zip", b"this is not a zip file\n" * 10, "not a zip archive")
    add("empty_file", b"", "empty file")
    return cases

"""`wfpkg verify` rejects every archive of the hostile corpus, in one line, extracting nothing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from support.badarchives import BadCase, bad_archives
from support.packages import TestKey, make_key
from typer.testing import CliRunner

from wfpkg.archive import Limits, verify_archive
from wfpkg.cli import app
from wfpkg.errors import ArchiveError, SignatureError

CASES = [
    "wheel_byte_changed", "archive_byte_changed", "metadata_byte_changed", "manifest_edited",
    "metadata_disagrees_with_manifest", "signed_by_untrusted_key", "signature_from_other_key",
    "signature_garbage", "manifest_names_other_key", "extra_member", "smuggled_sig",
    "missing_wheel", "missing_manifest_toml", "missing_signature", "nested_zip", "dotdot_name",
    "absolute_name", "drive_letter_name", "backslash_name", "long_name", "directory_entry",
    "case_duplicate", "nul_in_name", "duplicate_name", "unicode_duplicate", "not_nfc_name",
    "symlink_member", "local_name_differs", "encrypted_flag", "zip_bomb_ratio",
    "declared_size_huge", "declared_total_huge", "size_lie_inflates_more", "too_many_members",
    "archive_too_large", "not_a_zip", "empty_file",
]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory, data_processing: Path,
           session_key: TestKey) -> dict[str, BadCase]:
    cases = bad_archives(data_processing, session_key.private, tmp_path_factory.mktemp("bad"))
    return {c.case: c for c in cases}


def test_corpus_covers_every_attack(corpus: dict[str, BadCase]) -> None:
    assert sorted(corpus) == sorted(CASES)


def _snapshot(*folders: Path) -> set[str]:
    return {os.path.join(root, f) for folder in folders for root, dirs, files in os.walk(folder)
            for f in files + dirs}


@pytest.mark.parametrize("case", CASES)
def test_verify_rejects(case: str, corpus: dict[str, BadCase], session_key: TestKey,
                        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = corpus[case]
    monkeypatch.chdir(tmp_path)
    before = _snapshot(tmp_path, bad.path.parent)
    result = CliRunner().invoke(app, ["verify", str(bad.path), "--key", str(session_key.pub_path)])
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert bad.expected in lines[0]
    assert "Traceback" not in result.output
    assert _snapshot(tmp_path, bad.path.parent) == before, "something was extracted"


@pytest.mark.parametrize("case", ["signed_by_untrusted_key", "signature_from_other_key", "signature_garbage"])
def test_signature_problems_are_signature_errors(case: str, corpus: dict[str, BadCase],
                                                  session_key: TestKey) -> None:
    with pytest.raises(SignatureError) as info:
        verify_archive(corpus[case].path, session_key.trusted)
    assert info.value.member == "signature"


def test_an_empty_trust_store_trusts_nothing(data_processing: Path) -> None:
    with pytest.raises(SignatureError, match="not trusted"):
        verify_archive(data_processing, {})


def test_verify_accepts_the_good_archive_through_the_cli(data_processing: Path, session_key: TestKey) -> None:
    result = CliRunner().invoke(app, ["verify", str(data_processing), "--key", str(session_key.pub_path)])
    assert result.exit_code == 0, result.output
    assert f"OK data_processing 1.0.0 signed by key {session_key.key_id}" in result.stdout


def test_verify_with_another_key_names_the_untrusted_signer(data_processing: Path, tmp_path: Path,
                                                            session_key: TestKey) -> None:
    other = make_key(tmp_path)
    result = CliRunner().invoke(app, ["verify", str(data_processing), "--key", str(other.pub_path)])
    assert result.exit_code == 2
    assert f"signed by key {session_key.key_id} which is not trusted" in result.stderr


def test_limits_can_be_tightened(data_processing: Path, session_key: TestKey) -> None:
    tight = Limits(max_member_bytes=100)
    with pytest.raises(ArchiveError, match="over the limit of 100"):
        verify_archive(data_processing, session_key.trusted, limits=tight)


def test_verify_rejects_a_folder(tmp_path: Path, session_key: TestKey) -> None:
    with pytest.raises(ArchiveError, match="not a regular file"):
        verify_archive(tmp_path, session_key.trusted)

"""`build_package` on the data_processing sample: members, hashes, DAG, reproducibility."""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from pathlib import Path

import pytest
from support.packages import SAMPLES, TestKey, build_sample, make_key, members_of

from wfpkg.archive import read_archive_unverified, verify_archive
from wfpkg.build import build_package
from wfpkg.errors import BuildError
from wfpkg.manifest import Manifest

WHEEL = "wheels/data_processing-1.0.0-py3-none-any.whl"


def test_built_package_verifies_with_its_public_key(data_processing: Path, session_key: TestKey) -> None:
    pkg = verify_archive(data_processing, session_key.trusted)
    assert data_processing.name == "data_processing-1.0.0.wfpkg"
    assert pkg.key_id == session_key.key_id == pkg.manifest.key_id
    assert pkg.sha256 == hashlib.sha256(data_processing.read_bytes()).hexdigest()
    assert sorted(pkg.members) == ["manifest.toml", "metadata.json", "signature", WHEEL]
    assert [n for n, _ in pkg.wheels] == [WHEEL.removeprefix("wheels/")]
    m = pkg.manifest
    assert (m.name, m.version, m.sdk, m.requires_python) == ("data_processing", "1.0.0", ">=0.1,<0.2", ">=3.10")
    assert m.entry_points == {"data_processing": "data_processing.workflows"}
    assert pkg.metadata.build_time == m.build_time and pkg.metadata.builder.startswith("wfpkg ")


def test_manifest_hashes_every_other_member(data_processing: Path, session_key: TestKey) -> None:
    pkg = verify_archive(data_processing, session_key.trusted)
    listed = {f.path: f for f in pkg.manifest.files}
    assert sorted(listed) == ["metadata.json", WHEEL]
    for path, entry in listed.items():
        assert entry.size == len(pkg.members[path])
        assert entry.sha256 == hashlib.sha256(pkg.members[path]).hexdigest()


def test_manifest_holds_the_static_dag(data_processing: Path, session_key: TestKey) -> None:
    wf = verify_archive(data_processing, session_key.trusted).manifest.workflow("data_processing")
    assert wf is not None
    tasks = {t["id"]: t for t in wf["tasks"]}
    assert list(tasks) == ["collect_data", "process_data", "generate_report"]
    assert tasks["collect_data"]["depends_on"] == []
    assert tasks["process_data"]["depends_on"] == ["collect_data"]
    assert tasks["generate_report"]["depends_on"] == ["process_data"]
    assert tasks["process_data"]["retry"]["attempts"] == 3


def test_archive_is_written_reproducibly(data_processing: Path) -> None:
    with zipfile.ZipFile(data_processing) as zf:
        infos = zf.infolist()
    assert [i.filename for i in infos] == sorted(i.filename for i in infos)
    assert {i.date_time for i in infos} == {infos[0].date_time}
    assert {i.external_attr >> 16 for i in infos} == {0o100644}
    assert {i.compress_type for i in infos} == {zipfile.ZIP_DEFLATED}


def test_building_twice_gives_identical_bytes(tmp_path: Path) -> None:
    key = make_key(tmp_path)
    src = tmp_path / "src"
    shutil.copytree(SAMPLES / "data_processing", src,
                    ignore=shutil.ignore_patterns("dist", "build", "*.egg-info", "__pycache__"))
    first = build_package(src, key.private, tmp_path / "a")
    second = build_package(src, key.private, tmp_path / "b")
    assert first.read_bytes() == second.read_bytes()
    assert sorted(p.name for p in src.iterdir()) == ["data_processing", "pyproject.toml"], \
        "the build wrote into the source tree"
    assert sorted(p.name for p in (src / "data_processing").iterdir()) == ["__init__.py", "workflows.py"]


def test_helper_resigned_build_equals_fresh_build(tmp_path: Path, data_processing: Path) -> None:
    key = make_key(tmp_path)
    fresh = build_package(SAMPLES / "data_processing", key.private, tmp_path / "fresh")
    helper = build_sample("data_processing", key, tmp_path / "helper")
    assert fresh.read_bytes() == helper.read_bytes()


def test_build_sample_can_rewrite_the_version(tmp_path: Path, session_key: TestKey) -> None:
    path = build_sample("data_processing", session_key, tmp_path, version="1.1.0")
    info = read_archive_unverified(path)
    assert path.name == "data_processing-1.1.0.wfpkg"
    assert info.manifest.version == "1.1.0"
    assert "wheels/data_processing-1.1.0-py3-none-any.whl" in info.sizes


def test_source_date_epoch_fixes_the_build_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    key = make_key(tmp_path)
    path = build_package(SAMPLES / "data_processing", key.private, tmp_path)
    meta = json.loads(members_of(path)["metadata.json"])
    assert meta["build_time"] == "2023-11-14T22:13:20Z"
    assert Manifest.from_bytes(members_of(path)["manifest.toml"]).build_time == meta["build_time"]


def _project(tmp_path: Path, workflows_py: str, name: str = "broken") -> Path:
    src = tmp_path / name
    (src / name).mkdir(parents=True)
    (src / name / "__init__.py").write_text("")
    (src / name / "workflows.py").write_text(workflows_py)
    (src / "pyproject.toml").write_text(
        f'[build-system]\nrequires = ["setuptools>=69"]\nbuild-backend = "setuptools.build_meta"\n'
        f'[project]\nname = "{name}"\nversion = "0.1.0"\n'
        f'[project.entry-points.wfhost]\n{name} = "{name}.workflows"\n'
        f'[tool.setuptools]\npackages = ["{name}"]\n'
    )
    return src


def test_build_reports_a_declaration_error_naming_the_task(tmp_path: Path) -> None:
    src = _project(tmp_path, (
        "from wfpkg import Workflow, hookimpl\n"
        "wf = Workflow('flow')\n"
        "@wf.task(depends_on=['missing'])\n"
        "def step(ctx): pass\n"
        "@hookimpl\n"
        "def wfhost_workflows(): return [wf]\n"
    ))
    with pytest.raises(BuildError, match="task 'step' depends on unknown task 'missing'"):
        build_package(src, make_key(tmp_path).private)
    assert not (src / "dist").exists()


def test_build_reports_a_package_without_workflows(tmp_path: Path) -> None:
    src = _project(tmp_path, "x = 1\n")
    with pytest.raises(BuildError, match="provides no workflows"):
        build_package(src, make_key(tmp_path).private)


def test_build_rejects_a_package_name_the_host_cannot_use(tmp_path: Path) -> None:
    src = _project(tmp_path, "x = 1\n")
    text = (src / "pyproject.toml").read_text().replace('name = "broken"', 'name = "Broken-Pkg"')
    (src / "pyproject.toml").write_text(text)
    with pytest.raises(BuildError, match="invalid package name 'Broken-Pkg'"):
        build_package(src, make_key(tmp_path).private)

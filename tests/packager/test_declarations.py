"""SDK declaration errors, names, and manifest round-trip and validation."""

from __future__ import annotations

import copy

import pytest

from wfpkg import DefinitionError, RetryPolicy, Workflow
from wfpkg.errors import InvalidName, ManifestError
from wfpkg.manifest import FileEntry, Manifest, Metadata
from wfpkg.names import check_name, check_version, parse_workflow_ref


def _noop(ctx: object) -> None:
    return None


def test_unknown_dependency_names_the_task() -> None:
    wf = Workflow("flow")
    with pytest.raises(DefinitionError, match="workflow 'flow': task 'b' depends on unknown task 'a'"):
        wf.add_task(_noop, id="b", depends_on=["a"])


def test_a_cycle_cannot_be_declared() -> None:
    wf = Workflow("flow")
    wf.add_task(_noop, id="a")
    with pytest.raises(DefinitionError, match="task 'a2' depends on itself"):
        wf.add_task(_noop, id="a2", depends_on=["a2"])
    with pytest.raises(DefinitionError, match="task 'a' is declared twice"):
        wf.add_task(_noop, id="a", depends_on=["a"])


def test_duplicate_task_id_names_the_task() -> None:
    wf = Workflow("flow")
    wf.add_task(_noop, id="step")
    with pytest.raises(DefinitionError, match="task 'step' is declared twice"):
        wf.add_task(_noop, id="step")


def test_bad_task_name_is_reported() -> None:
    wf = Workflow("flow")
    with pytest.raises(DefinitionError, match="invalid task id 'Bad-Task'"):
        wf.add_task(_noop, id="Bad-Task")


def test_every_problem_is_reported_at_once() -> None:
    wf = Workflow("flow")
    with pytest.raises(DefinitionError) as info:
        wf.add_task(_noop, id="Bad", depends_on=["x"], trigger="sometimes")
    assert len(info.value.problems) == 3


def test_bad_workflow_name_and_retry_policy() -> None:
    with pytest.raises(DefinitionError, match="invalid workflow name"):
        Workflow("data-processing")
    with pytest.raises(DefinitionError, match="retry attempts"):
        RetryPolicy(attempts=0)


@pytest.mark.parametrize("name", ["a", "data_processing", "x" * 63, "a1_b2"])
def test_valid_names(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize("name", ["", "A", "1abc", "data-processing", "x" * 64, "a::b", "é", None])
def test_invalid_names(name: object) -> None:
    with pytest.raises(InvalidName):
        check_name(name)


def test_versions_are_normalized_and_refs_parsed() -> None:
    assert check_version("1.0") == "1.0"
    assert check_version("1.0.0-RC1") == "1.0.0rc1"
    with pytest.raises(InvalidName):
        check_version("one")
    ref = parse_workflow_ref("acme::data_processing@1.0::data_processing")
    assert (ref.tenant, ref.package, ref.version) == ("acme", "data_processing", "1.0")
    with pytest.raises(InvalidName, match="belongs to tenant"):
        parse_workflow_ref("other::p::w", tenant="acme")


def _manifest() -> Manifest:
    wf = Workflow("flow")
    wf.add_task(_noop, id="a")
    wf.add_task(_noop, id="b", depends_on=["a"], retry=RetryPolicy(attempts=2, backoff=0.1))
    return Manifest(
        name="pkg", version="1.0.0", requires_python=">=3.10", sdk=">=0.1,<0.2",
        build_time="2024-01-01T00:00:00Z", key_id="0" * 32,
        entry_points={"pkg": "pkg.workflows"}, workflows=[wf.to_dict()],
        files=[FileEntry("metadata.json", 10, "a" * 64)],
    )


def test_manifest_round_trips_byte_for_byte() -> None:
    m = _manifest()
    again = Manifest.from_bytes(m.to_bytes())
    assert again == m and again.to_bytes() == m.to_bytes()


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda d: d["package"].update(name="Bad-Name"), "invalid package name"),
    (lambda d: d["package"].update(version="one"), "not a PEP 440 version"),
    (lambda d: d["package"].update(sdk="banana"), "is not a version specifier"),
    (lambda d: d["package"].pop("key_id"), "missing 'key_id'"),
    (lambda d: d["workflows"][0]["tasks"][1].update(depends_on=["zz"]), "depends on unknown task 'zz'"),
    (lambda d: d["workflows"][0]["tasks"].append(dict(d["workflows"][0]["tasks"][0])), "appears twice"),
    (lambda d: d["files"][0].update(sha256="xyz"), "not 64 lowercase hex"),
    (lambda d: d.update(extra=1), "unknown keys"),
    (lambda d: d.update(format=2), "format 2 is not supported"),
])
def test_manifest_validation_names_the_problem(mutate: object, message: str) -> None:
    doc = copy.deepcopy(_manifest().to_dict())
    mutate(doc)  # type: ignore[operator]
    with pytest.raises(ManifestError, match=message):
        Manifest.from_dict(doc)


def test_manifest_rejects_non_toml() -> None:
    with pytest.raises(ManifestError, match="not valid UTF-8 TOML"):
        Manifest.from_bytes(b"\xff\xfe")


def test_metadata_round_trip_and_agreement() -> None:
    meta = Metadata("pkg", "1.0.0", "wfpkg 0.1.0", "2024-01-01T00:00:00Z", "f" * 64, "me", "d")
    assert Metadata.from_bytes(meta.to_bytes()) == meta
    meta.check_against(_manifest())
    with pytest.raises(ManifestError, match="version '2.0' disagrees"):
        Metadata("pkg", "2.0", "b", "2024-01-01T00:00:00Z", "f").check_against(_manifest())
    with pytest.raises(ManifestError, match="unknown fields"):
        Metadata.from_bytes(b'{"name": "p", "version": "1", "builder": "b", "build_time": "t", '
                            b'"source_fingerprint": "f", "evil": "1"}')


def test_every_manifest_problem_is_reported_at_once_naming_its_field() -> None:
    doc = copy.deepcopy(_manifest().to_dict())
    doc["package"]["name"] = "Bad-Name"
    doc["package"].pop("key_id")
    doc["workflows"][0]["tasks"][1]["trigger"] = "sometimes"
    doc["workflows"][0]["tasks"][0]["depends_on"] = [3]
    doc["files"].append({"path": "metadata.json", "size": 1, "sha256": "b" * 64})
    doc["surprise"] = True
    with pytest.raises(ManifestError) as caught:
        Manifest.from_dict(doc)
    message = str(caught.value)
    assert "\n" not in message and message.startswith("manifest.toml: ")
    for part in ("package.name: ", "package: missing 'key_id'", "workflows[0].tasks[1].trigger: ",
                 "workflows[0].tasks[0].depends_on[0]: Input should be a valid string",
                 "file 'metadata.json' is listed twice", "unknown keys ['surprise']"):
        assert part in message, (part, message)


def test_metadata_reports_every_problem_naming_the_field() -> None:
    with pytest.raises(ManifestError) as caught:
        Metadata.from_bytes(b'{"name": 1, "version": "1", "builder": "b", "evil": "x"}')
    message = str(caught.value)
    for part in ("name: Input should be a valid string", "missing 'build_time'",
                 "missing 'source_fingerprint'", "unknown fields ['evil']"):
        assert part in message, (part, message)


def test_declared_inputs_go_into_the_dag_and_must_be_described() -> None:
    flow = Workflow("orders", inputs={"cost": "unit cost"})

    @flow.task()
    def price(ctx: object) -> None: ...

    assert flow.to_dict()["inputs"] == {"cost": "unit cost"}
    assert "inputs" not in Workflow("plain").to_dict()  # undeclared: manifests stay as they were
    with pytest.raises(DefinitionError, match="inputs maps field names to descriptions"):
        Workflow("orders", inputs={"cost": 3})  # type: ignore[dict-item]


def test_a_manifest_whose_inputs_are_not_descriptions_is_refused() -> None:
    doc = copy.deepcopy(_manifest().to_dict())
    doc["workflows"][0]["inputs"] = {"cost": 3}
    with pytest.raises(ManifestError, match=r"workflows\[0\]\.inputs"):
        Manifest.from_dict(doc)
    doc["workflows"][0]["inputs"] = {"cost": "unit cost"}
    assert Manifest.from_dict(doc).workflows[0]["inputs"] == {"cost": "unit cost"}

"""Run by `wfpkg build` in a fresh interpreter: load a built package and print its DAGs.

Usage: ``python -I -m wfpkg._introspect DIST_NAME SITE_DIR WHEEL...``

Each wheel is unzipped into ``SITE_DIR`` (which is put first on ``sys.path``);
then only the entry points of group ``wfhost`` that belong to distribution
``DIST_NAME`` are loaded into a pluggy manager, the workflows are collected
and validated, and one JSON line is printed on stdout::

    {"workflows": [...], "entry_points": {...}}

or, on failure, ``{"error": "one line"}`` with exit status 1. The author's
code is imported only here, never in the process that signs the package.
"""

from __future__ import annotations

import json
import sys
import zipfile
from importlib import metadata
from pathlib import Path

from packaging.utils import canonicalize_name

from .errors import DefinitionError
from .plugin import ENTRY_POINT_GROUP, collect_workflows, plugin_manager


def _introspect(dist_name: str, site: Path, wheels: list[Path]) -> dict[str, object]:
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as zf:
            zf.extractall(site)  # our own freshly built wheels, in a private temp dir
    sys.path.insert(0, str(site))
    wanted = canonicalize_name(dist_name)
    dists = [d for d in metadata.distributions(path=[str(site)])
             if canonicalize_name(d.metadata["Name"] or "") == wanted]
    if not dists:
        return {"error": f"the built wheel does not contain distribution {dist_name!r}"}
    eps = [ep for ep in dists[0].entry_points if ep.group == ENTRY_POINT_GROUP]
    if not eps:
        return {"error": f"distribution {dist_name!r} declares no entry points in group "
                         f"{ENTRY_POINT_GROUP!r}; add [project.entry-points.{ENTRY_POINT_GROUP}]"}
    pm = plugin_manager()
    for ep in eps:
        try:
            plugin = ep.load()
        except Exception as exc:  # noqa: BLE001 - author code; reported as one line
            return {"error": f"entry point {ep.name!r} ({ep.value}) failed to import: "
                             f"{type(exc).__name__}: {exc}"}
        pm.register(plugin, name=f"{dist_name}:{ep.name}")
    try:
        found = collect_workflows(pm)
    except DefinitionError as exc:
        return {"error": "; ".join(exc.problems)}
    except Exception as exc:  # noqa: BLE001
        return {"error": f"wfhost_workflows hook failed: {type(exc).__name__}: {exc}"}
    return {
        "workflows": [wf.to_dict() for wf in found.values()],
        "entry_points": {ep.name: ep.value for ep in eps},
    }


def main(argv: list[str]) -> int:
    """Entry point; returns the process exit status."""
    dist_name, site, *wheels = argv
    try:
        result = _introspect(dist_name, Path(site), [Path(w) for w in wheels])
    except Exception as exc:  # noqa: BLE001 - anything else is still one line for the builder
        result = {"error": f"{type(exc).__name__}: {exc}"}
    sys.stdout.write(json.dumps(result) + "\n")
    return 1 if "error" in result else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

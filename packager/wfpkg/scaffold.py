"""A new package project, written from the templates `wfpkg init` uses.

Example::

    write_project(Path("shop"), "shop", version="1.0.0",
                  files={"workflows.py": WORKFLOWS})   # then wfpkg build shop --key KEY
"""

from __future__ import annotations

import string
from importlib import resources
from pathlib import Path

from .names import check_name

__all__ = ["write_project"]

_TEMPLATES = {
    "pyproject.toml": "pyproject.toml.tmpl",
    "{name}/__init__.py": "__init__.py.tmpl",
    "{name}/workflows.py": "workflows.py.tmpl",
}


def write_project(target: Path, name: str, *, version: str = "0.1.0", description: str = "",
                  author: str = "", files: dict[str, str] | None = None) -> Path:
    """Write the project of package ``name`` into ``target``; returns ``target``.

    ``files`` are module files of the package (``{"workflows.py": source}``),
    written over or beside the template's.

    Raises:
        InvalidName: ``name`` is not a valid package name.
    """
    check_name(name, "package name")
    values = {
        "name": name,
        "version": version,
        "description": (description or f"Workflows of {name}.").replace('"', "'"),
        "author": (author or "unknown").replace('"', "'"),
    }
    templates = resources.files("wfpkg") / "templates"
    for rel, tmpl in _TEMPLATES.items():
        path = target / rel.format(name=name)
        path.parent.mkdir(parents=True, exist_ok=True)
        text = string.Template((templates / tmpl).read_text(encoding="utf-8")).substitute(values)
        path.write_text(text, encoding="utf-8")
    for rel, text in (files or {}).items():
        (target / name / rel).write_text(text, encoding="utf-8")
    return target

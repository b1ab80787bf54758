"""Installing a package's wheels into its own directory with `installer`.

Every wheel's RECORD is checked (every file listed, every hash right) before
anything is written; then the wheels are unpacked into one directory, which
becomes the first ``sys.path`` entry of the package's workers. No code of the
package runs here and no bytecode is compiled.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

import installer
from installer.destinations import SchemeDictionaryDestination
from installer.exceptions import InstallerError
from installer.sources import WheelFile

from .errors import InstallError

__all__ = ["install_wheels"]


def install_wheels(wheels: Iterable[tuple[str, bytes]], target: Path, *, label: str) -> None:
    """Check and install ``(file name, bytes)`` wheels into ``target``.

    Pure and platform libraries go to ``target`` itself; scripts, data and
    headers to ``target/_scripts``, ``_data`` and ``_headers``.

    Args:
        wheels: the wheels, as a verified archive hands them out.
        target: an empty directory (the caller removes it on failure).
        label: how messages name the package.

    Raises:
        InstallError: naming the wheel and every problem found in it.
    """
    target.mkdir(parents=True, exist_ok=True)
    schemes = {
        "purelib": str(target),
        "platlib": str(target),
        "scripts": str(target / "_scripts"),
        "data": str(target / "_data"),
        "headers": str(target / "_headers"),
    }
    destination = SchemeDictionaryDestination(
        schemes, interpreter=sys.executable, script_kind="posix", bytecode_optimization_levels=()
    )
    with tempfile.TemporaryDirectory(prefix="wheels-", dir=target.parent) as tmp:
        for name, data in wheels:
            path = Path(tmp) / Path(name).name
            path.write_bytes(data)
            try:
                with WheelFile.open(path) as source:
                    source.validate_record(validate_contents=True)
                    installer.install(source, destination, {"INSTALLER": b"wfhost\n"})
            except InstallerError as exc:
                issues = getattr(exc, "issues", None)
                detail = "; ".join(issues) if issues else str(exc)
                raise InstallError(f"{label}: wheel {name!r} refused: {detail}") from None
            except (ValueError, OSError, KeyError) as exc:
                raise InstallError(f"{label}: wheel {name!r} could not be installed: {exc}") from None

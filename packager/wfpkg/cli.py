"""The `wfpkg` command: init, keygen, build, inspect, verify.

Rendering lives here only; the work is done by `wfpkg.build`, `wfpkg.archive`
and `wfpkg.keys`, which return data. A failure is one red ``error: ...`` line
on stderr, never a traceback, and the exit status says what kind, as
``wfhost``'s do:

====  =====================================================================
0     success
1     any other error (a file that cannot be written)
2     bad input: a usage error, a project that does not build, an archive
      rejected by ``verify`` or ``inspect``, a missing or unreadable key, a
      bad name, a key file that exists (``keygen`` without ``--force``)
====  =====================================================================

`run_cli` (shared with ``wfhost``) turns usage errors into that one line too.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from . import __version__
from .errors import WfpkgError
from .names import check_name

__all__ = ["app", "main", "run_cli"]

app = typer.Typer(
    name="wfpkg",
    help="Write, build, sign and check workflow packages (.wfpkg).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

KeyOption = Annotated[
    Path | None,  # noqa: UP007 - typer on 3.10 needs Optional
    typer.Option("--key", "-k", help="Private signing key [default: $WFPKG_KEY or ~/.config/wfpkg/signing.key]"),
]


def _fail(exc: BaseException) -> typer.Exit:
    err.print(f"[red]error:[/red] {escape(' '.join(str(exc).split()))}", soft_wrap=True)
    return typer.Exit(2 if isinstance(exc, WfpkgError) else 1)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"wfpkg {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True, help="Print the version and exit.")] = False,
) -> None:
    """Write, build, sign and check workflow packages (.wfpkg)."""


@app.command()
def init(
    name: Annotated[str, typer.Argument(help="Package name: lowercase letters, digits, '_'.")],
    directory: Annotated[Path | None, typer.Option("--dir", help="Create it here [default: ./NAME]")] = None,  # noqa: UP007
    description: Annotated[str, typer.Option(help="One line about the package.")] = "",
    author: Annotated[str, typer.Option(help="Author shown by inspect.")] = "",
) -> None:
    """Create a new workflow package that builds as is."""
    from .scaffold import write_project

    try:
        check_name(name, "package name")
        target = directory if directory is not None else Path(name)
        if target.exists() and any(target.iterdir()):
            raise WfpkgError(f"{target} exists and is not empty; choose another --dir")
        write_project(target, name, description=description, author=author)
    except (WfpkgError, OSError) as exc:
        raise _fail(exc) from None
    out.print(f"created package [bold]{name}[/bold] in {escape(str(target))}")
    out.print(f"next: wfpkg build {escape(str(target))} --key KEY")


@app.command()
def keygen(
    out_path: Annotated[Path | None, typer.Option("--out", "-o", help="Where to write the private key [default: $WFPKG_KEY or ~/.config/wfpkg/signing.key]")] = None,  # noqa: UP007,E501
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing key files.")] = False,
) -> None:
    """Create an Ed25519 signing key (mode 0600) and its public key (PATH.pub)."""
    from .keys import default_key_path, generate_private_key, key_id, public_key_text, write_private_key

    path = out_path or default_key_path()
    pub_path = path.with_name(path.name + ".pub")
    try:
        if pub_path.exists() and not force:
            raise WfpkgError(f"{pub_path} already exists; pass --force to overwrite it")
        key = generate_private_key()
        write_private_key(path, key, force=force)
        text = public_key_text(key.public_key())
        pub_path.write_text(text, encoding="ascii")
    except (WfpkgError, OSError) as exc:
        raise _fail(exc) from None
    out.print(f"private key: {escape(str(path))} (keep it secret)")
    out.print(f"public key:  {escape(str(pub_path))}")
    out.print(f"key id:      [bold]{key_id(key.public_key())}[/bold]")
    out.print(text, end="")


@app.command()
def build(
    directory: Annotated[Path, typer.Argument(help="The package project folder.")] = Path("."),
    key: KeyOption = None,
    out_dir: Annotated[Path | None, typer.Option("--out", "-o", help="Output folder [default: DIR/dist]")] = None,  # noqa: UP007
) -> None:
    """Build, sign and verify a .wfpkg from a project folder."""
    from .archive import read_archive_unverified
    from .build import build_package
    from .keys import default_key_path, load_private_key

    try:
        private = load_private_key(key or default_key_path())
        with err.status("building ...") as status:
            path = build_package(directory, private, out_dir,
                                 progress=lambda msg: status.update(escape(msg) + " ..."))
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        info = read_archive_unverified(path)
    except WfpkgError as exc:
        raise _fail(exc) from None
    out.print(f"built [bold]{escape(str(path))}[/bold]")
    out.print(f"  package  {info.manifest.name} {info.manifest.version}")
    out.print(f"  key id   {info.signature.key_id}")
    out.print(f"  sha256   {digest}")


def _workflow_tree(wf: dict[str, Any]) -> Tree:
    label = f"[bold]{escape(wf['name'])}[/bold]"
    if wf.get("description"):
        label += f"  [dim]{escape(wf['description'])}[/dim]"
    tree = Tree(label)
    for field_name, about in (wf.get("inputs") or {}).items():
        tree.add(f"[dim]input[/dim] {escape(field_name)}: {escape(about)}")
    for task in wf["tasks"]:
        deps = ", ".join(task["depends_on"]) or "-"
        retry = task.get("retry", {}).get("attempts", 1)
        extra = f"  retry x{retry}" if retry > 1 else ""
        if task.get("trigger", "all_success") != "all_success":
            extra += f"  trigger {task['trigger']}"
        tree.add(f"{escape(task['id'])}  [dim]after: {escape(deps)}{escape(extra)}[/dim]")
    return tree


@app.command()
def inspect(
    file: Annotated[Path, typer.Argument(help="A .wfpkg archive.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead.")] = False,
) -> None:
    """Show a package's manifest, workflows, signer and members (checks integrity, not trust)."""
    from .archive import read_archive_unverified

    try:
        info = read_archive_unverified(file)
    except WfpkgError as exc:
        raise _fail(exc) from None
    m, meta = info.manifest, info.metadata
    if as_json:
        doc = {"manifest": m.to_dict(), "metadata": meta.__dict__, "key_id": info.signature.key_id,
               "members": info.sizes}
        typer.echo(json.dumps(doc, indent=2, sort_keys=True))
        return
    facts = Table.grid(padding=(0, 2))
    for label, value in (
        ("package", f"{m.name} {m.version}"), ("requires python", m.requires_python or "any"),
        ("sdk", m.sdk), ("built", m.build_time), ("builder", meta.builder),
        ("author", meta.author), ("description", meta.description),
        ("source", meta.source_fingerprint), ("signed by key", info.signature.key_id),
        ("entry points", ", ".join(f"{k} = {v}" for k, v in m.entry_points.items())),
    ):
        facts.add_row(f"[dim]{label}[/dim]", escape(value))
    out.print(facts)
    out.print()
    for wf in m.workflows:
        out.print(_workflow_tree(wf))
    members = Table("member", "bytes", title=None, box=None)
    for name, size in info.sizes.items():
        members.add_row(escape(name), str(size))
    out.print()
    out.print(members)


@app.command()
def verify(
    file: Annotated[Path, typer.Argument(help="A .wfpkg archive.")],
    key: Annotated[list[Path], typer.Option("--key", "-k", help="A trusted public key (PEM); repeatable.")],
) -> None:
    """Check a package completely against trusted public keys; exit 2 if it is rejected."""
    from .archive import verify_archive
    from .keys import key_id, load_public_key

    try:
        trusted = {key_id(pub): pub for pub in (load_public_key(p) for p in key)}
        pkg = verify_archive(file, trusted)
    except WfpkgError as exc:
        raise _fail(exc) from None
    out.print(f"[green]OK[/green] {pkg.manifest.name} {pkg.manifest.version} "
              f"signed by key {pkg.key_id}")
    out.print(f"sha256 {pkg.sha256}")


def main() -> None:
    """Run the `wfpkg` command line."""
    sys.exit(run_cli(app, err))


#: click's base error, which typer raises for usage errors but does not export by name.
_ClickException: type[Exception] = next(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


def run_cli(command: typer.Typer, console: Console) -> int:
    """Run a typer app; a usage error is one red ``error: ...`` line, exit status 2.

    typer would draw a boxed panel under the usage text; our commands promise
    one line (``wfhost`` uses this too). Returns the exit status.
    """
    try:
        result = command(standalone_mode=False)
    except _ClickException as exc:
        text = exc.format_message()  # type: ignore[attr-defined]
        if type(exc).__name__ == "NoArgsIsHelpError":  # a bare command: its help, as asked
            typer.echo(text)
            return 2
        ctx = getattr(exc, "ctx", None)
        where = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
        console.print(f"[red]error:[/red] {escape(' '.join(text.split()))}{escape(where)}",
                      soft_wrap=True)
        return int(getattr(exc, "exit_code", 2))
    except typer.Abort:
        console.print("[yellow]interrupted[/yellow]")
        return 130
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    main()

"""``python -m wfpkg``: the `wfpkg` command line."""

from .cli import main

main()

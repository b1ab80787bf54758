"""`python -m wfhost`: the `wfhost` command line."""

from .cli import main

main()

"""`python -m daemon.cli ...`: the `sleepd` command."""

from daemon.cli import main

main()

"""`python -m facematch COMMAND ...`: the same as the `facematch` command."""

from facematch.cli import main

main()

"""`python -m simsearch` runs the CLI, the same as the `simsearch` console script."""

from simsearch.cli import main

main()

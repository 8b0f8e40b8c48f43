"""`python -m wfdsl`: the command-line interface."""

from wfdsl.cli import main

main()

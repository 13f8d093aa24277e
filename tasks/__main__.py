"""`python -m mvflow ...` runs the `mvflow` command."""

from mvflow.cli import main

main()

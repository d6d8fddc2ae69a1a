"""`python -m streams` runs the wirewatch command line."""

from streams.cli import main

main()

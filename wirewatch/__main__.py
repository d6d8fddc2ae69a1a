"""`python -m wirewatch` runs the wirewatch command line."""

from wirewatch.cli import main

main(prog_name="wirewatch")

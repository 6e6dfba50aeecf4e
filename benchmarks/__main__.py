"""`python -m benchmarks [--quick ...]`: the same run as `docflow bench` in a checkout."""

from benchmarks.cli import main

main()

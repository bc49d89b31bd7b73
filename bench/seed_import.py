"""Seed and import benchmark: `python bench/seed_import.py --help` (same as `ctower bench seed`)."""

import argparse
import sys

from core.bench.seed_import import add_arguments, main

if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="bench/seed_import.py", description=__doc__)
    add_arguments(parser)
    sys.exit(main(parser.parse_args()))

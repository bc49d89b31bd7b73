"""Solomon VRPTW benchmark: `python bench/solomon.py --help`. The work is in core.bench.solomon."""

import argparse
import sys

from core.bench.solomon import add_arguments, main

if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        prog="bench/solomon.py", description="Solomon VRPTW benchmark against best-known tables."
    )
    add_arguments(parser)
    sys.exit(main(parser.parse_args()))

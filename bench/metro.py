"""Metro days benchmark: `python bench/metro.py --help`. The work is in core.bench.metro."""

import argparse
import sys

from core.bench.metro import add_arguments, main

if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        prog="bench/metro.py", description="Metro days: decomposed parallel solves of large synthetic days."
    )
    add_arguments(parser)
    sys.exit(main(parser.parse_args()))

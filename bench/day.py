"""The outcome benchmark, rule-based against agentic dispatch: `python bench/day.py --help`.

The same as `ctower bench day`; see `core/bench/day.py` for what each policy does.
"""

import argparse
import sys

from core.bench.day import add_arguments, main

if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="bench/day.py", description=__doc__)
    add_arguments(parser)
    sys.exit(main(parser.parse_args()))

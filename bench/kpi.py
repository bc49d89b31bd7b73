"""KPI benchmark: `python bench/kpi.py --help` (same as `ctower bench kpi`)."""

import argparse
import sys

from core.bench.kpi import add_arguments, main

if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="bench/kpi.py", description=__doc__)
    add_arguments(parser)
    sys.exit(main(parser.parse_args()))

"""Live map benchmark: `python bench/live_map.py --help`.

Times the read model (`core.live.read_live_map`) and the layers (`ui.maps.live_deck` plus the
JSON that Streamlit sends to the browser) for seeded days of several sizes.
"""

import argparse
import sys

from core.bench.live_map import BENCH_TZ, add_arguments, main
from core.live import LiveMap
from ui.maps import live_deck, view_over


def build_layers(live: LiveMap) -> str:
    return live_deck(live, view_over(live.hubs), "/app/static/blank_style.json", BENCH_TZ).to_json()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="bench/live_map.py", description=__doc__)
    add_arguments(parser)
    sys.exit(main(parser.parse_args(), build_layers))

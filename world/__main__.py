"""python -m world --seed S --days N --out DIR: simulate a world and export it."""

from __future__ import annotations

import argparse
import json
import sys

from world.export import export_world
from world.simulate import simulate_world, world_stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m world", description=__doc__)
    parser.add_argument("--seed", type=int, default=0, help="evaluation seed, 0 <= seed < 1000 (default 0)")
    parser.add_argument("--days", type=int, default=10, help="number of simulated days (default 10)")
    parser.add_argument("--out", required=True, help="output directory (created if missing)")
    args = parser.parse_args(argv)
    try:
        world = simulate_world(args.seed, days=args.days)
        paths = export_world(world, args.out)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    summary = world_stats(world) | {
        "files": {k: str(v) for k, v in paths.items() if not k.startswith("day_")}
    }
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

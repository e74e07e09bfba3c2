"""``msit-lite params --config CONFIG [--json]``: parameter counts of a config (no weights needed)."""
from __future__ import annotations

import argparse
import json

from msit_lite.config import build_model, load_config
from msit_lite.params import count_parameters, format_report


def add_parser(subparsers: argparse._SubParsersAction, help_text: str) -> argparse.ArgumentParser:
    p = subparsers.add_parser("params", help=help_text, description=help_text)
    p.add_argument("--config", required=True, help="YAML config with a model: {name, args} section")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    model = build_model(load_config(args.config), str(args.config))
    report = count_parameters(model)
    print(json.dumps(report.to_dict()) if args.json else format_report(report))
    return 0

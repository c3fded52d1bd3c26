"""Study mode's export: anonymised check-ups per arm, and each arm's mean change with its interval.

    FACEMATCH_STUDY=<key> facematch study export OUT_DIR [--db URL_OR_PATH]

Writes OUT_DIR/checkups.csv (pseudonym, arm, checkup, date, mean_score, trials, rounds_before: one row
per player and check-up; no names) and OUT_DIR/summary.md (per arm: players with two check-ups or
more, their mean change from the first to the latest, a 95% bootstrap interval, and whether it is
distinguishable from no change). The key is the one the app ran with: it seeds the arms and pseudonyms.
"""

import argparse
import csv
from pathlib import Path

from facematch.cli import CliError
from facematch.config import study_key
from facematch.play.history import open_store
from facematch.play.study import arm_effects, export_rows

COLUMNS = ["pseudonym", "arm", "checkup", "date", "mean_score", "trials", "rounds_before"]


def write_export(rows, key: str, out_dir: Path) -> list:
    exported = export_rows(rows, key)
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / "checkups.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(exported)
    effects = arm_effects(exported)
    lines = ["# Study summary", "",
             f"{len({r['pseudonym'] for r in exported})} players, {len(exported)} check-ups. Change: each player's "
             "latest check-up minus their first (mean score 0-100, scored by the independent judge).", ""]
    lines += [f"- {effect.sentence()}" for effect in effects]
    (out_dir / "summary.md").write_text("\n".join(lines) + "\n")
    return effects


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="facematch study", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="action", required=True)
    export = sub.add_parser("export", help="write the anonymised check-ups and the per-arm summary")
    export.add_argument("out_dir", type=Path)
    export.add_argument("--db", help="the history database (default: FACEMATCH_DB, else the data directory's)")
    args = parser.parse_args(argv)
    key = study_key()
    if not key:
        raise CliError("FACEMATCH_STUDY is not set: give the key the app ran with (it seeds the arms and pseudonyms)")
    store = open_store(args.db)
    effects = write_export(store.rounds(), key, args.out_dir)
    for effect in effects:
        print(effect.sentence())
    print(f"wrote {args.out_dir / 'checkups.csv'} and {args.out_dir / 'summary.md'}")
    return 0

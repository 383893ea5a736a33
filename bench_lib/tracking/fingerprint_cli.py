"""`llm-bench fingerprint`: print this machine's fingerprint, or register it as the asv machine.

--asv-machine writes the entry into ~/.asv-machine.json (through asv's own MachineCollection),
the full record (JSON) to <results>/<machine>/fingerprint.txt and the environment's package list
to <results>/<machine>/env-<id>.txt (not .json: asv would try to read those as result files); then run asv with
`--machine "$(llm-bench fingerprint --name)"` so the results land in that machine's series.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from bench_lib import environment

from bench_lib import fingerprint


def add_arguments(parser) -> None:
    parser.add_argument("--name", action="store_true", help="print only the asv machine name")
    parser.add_argument("--asv-machine", action="store_true",
                        help="register the machine in ~/.asv-machine.json and keep the record beside the results")
    parser.add_argument("--results", type=Path, default=Path("results"),
                        help="asv results directory (default: results)")


def register_asv_machine(record: dict, results: Path) -> Path:
    from asv.machine import MachineCollection

    MachineCollection.save(record["machine"], fingerprint.asv_machine_entry(record))
    path = Path(results) / record["machine"] / "fingerprint.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    environment.save(environment.identity(), results, record["machine"])
    return path


def run(args) -> int:
    record = fingerprint.collect()
    if args.name:
        print(record["machine"])
        return 0
    if args.asv_machine:
        path = register_asv_machine(record, args.results)
        print(f"asv machine {record['machine']!r} registered in ~/.asv-machine.json; record: {path}",
              file=sys.stderr)
        print(record["machine"])
        return 0
    print(json.dumps(record, indent=2, sort_keys=True))
    return 0

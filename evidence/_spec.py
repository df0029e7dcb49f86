"""Writes sdk/spec/envelope.schema.json from the envelope models (`make spec`); a test fails when it is stale."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from evidence._envelope import envelope_json_schema


def schema_text() -> str:
    return json.dumps(envelope_json_schema(), indent=2, sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    target = Path(argv[0] if argv else "sdk/spec/envelope.schema.json")
    target.write_text(schema_text())
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

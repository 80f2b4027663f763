"""Stage `baseline`: what a student must beat. `copy_source` hands the German test source back as its
"English" translation; names, numbers and UI strings shared by both languages give it a non-zero BLEU."""
from __future__ import annotations

import json

from regurgitative import scoring
from regurgitative.params import load_params
from regurgitative.paths import BASELINES, PREPARED_DIR, SRC, TGT
from regurgitative.text import read_lines


def main() -> None:
    load_params()  # reads no key; refuses a grid that names what does not exist (validation.check_grid)
    references = read_lines(PREPARED_DIR / f"test.{TGT}")
    source = read_lines(PREPARED_DIR / f"test.{SRC}")
    results = {"copy_source": scoring.score(source, references)}
    BASELINES.parent.mkdir(parents=True, exist_ok=True)
    BASELINES.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

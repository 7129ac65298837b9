"""The long fuzz run of every dump parser (the suite runs a short one): arbitrary text, mutated real
dumps and random bytes through detection, every parser and the snapshot builder; nothing may raise.

    python bench/fuzz_ingest.py [--examples 20000] [--seed N]

It prints how many inputs ran and stops at the first exception with the input that caused it."""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from gpubal.doctor.ingest.dumps import InputError, read_dump  # noqa: E402
from gpubal.doctor.ingest.build import DumpFacts, build_snapshot  # noqa: E402
from gpubal.doctor.ingest.common import parse_lines  # noqa: E402
from gpubal.doctor.ingest.registry import FORMATS, detect  # noqa: E402

SAMPLES = [path.read_text() for path in sorted((ROOT / "tests" / "fixtures" / "dumps").glob("*/*.txt"))]


def mutate(rng: random.Random, text: str) -> str:
    lines = text.splitlines(keepends=True)
    for _ in range(rng.randint(1, 8)):
        if not lines:
            break
        choice = rng.random()
        at = rng.randrange(len(lines))
        if choice < 0.2:
            del lines[at]
        elif choice < 0.4:
            lines.insert(at, lines[rng.randrange(len(lines))])
        elif choice < 0.6:
            line = lines[at]
            cut = rng.randint(0, len(line))
            lines[at] = line[:cut] + rng.choice(["", "\t", "\x1b[4m", " X ", "NV", "\"", "<", "]", "\x00"]) + line[cut:]
        elif choice < 0.8:
            lines[at] = lines[at].replace(" ", "", rng.randint(0, 3))
        else:
            lines = lines[:at]  # truncated
    return "".join(lines)


def one(text: str, path: Path) -> None:
    lines = text.splitlines(keepends=True)
    detect(text)
    for fmt in FORMATS:
        result = parse_lines(fmt.parser(), lines)
        build_snapshot([DumpFacts("fuzz", list(result.observations()), [fmt.name])])
    path.write_bytes(text.encode("utf-8", errors="surrogatepass"))
    try:
        read_dump(str(path))
    except InputError:
        pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--examples", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "dump"
        for count in range(1, args.examples + 1):
            kind = rng.random()
            if kind < 0.7:
                text = mutate(rng, rng.choice(SAMPLES))
            elif kind < 0.9:
                text = "".join(rng.choice(SAMPLES[rng.randrange(len(SAMPLES))]) for _ in range(rng.randint(0, 400)))
            else:
                text = bytes(rng.randrange(256) for _ in range(rng.randint(0, 300))).decode("latin-1")
            try:
                one(text, path)
            except Exception:
                print(f"input {count} (seed {args.seed}) raised:\n{text!r}", file=sys.stderr)
                raise
    print(f"{args.examples} inputs, no exception, {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Picks a small committed corpus for one fuzz target: at most N inputs that keep most edges.

libFuzzer's own `-merge=1` keeps every input that adds a feature, hundreds or thousands after a
10-minute run. This script runs that merge once with `-use_counters=0` (features = coverage
edges only) and `-merge_control_file`, reads which edges each input reaches, and picks inputs
greedily (most new edges first, the smaller on a tie) until N are chosen or nothing new is left.
The chosen inputs replace the contents of fuzz/corpus/<target>/, named by their SHA-1 like
libFuzzer names them.

    python3 minimize.py TARGET [CORPUS_DIR ...] [--max-files 50] [--max-size 2048]

The corpora default to fuzz/corpus/<target>, fuzz/seeds/<target> and fuzz/corpus-work/<target>
(when present). Run it from fuzz/ after `cargo fuzz build -O` (with the same CARGO_TARGET_DIR).
"""

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile


def run_merge(binary, tmp, out, corpora, union=False):
    """`binary -merge=1 -use_counters=0` of `corpora` into `out`: {input index: edges it adds},
    or with `union`, the set of every edge."""
    os.makedirs(out, exist_ok=True)
    mcf = os.path.join(tmp, "mcf")
    if os.path.exists(mcf):
        os.remove(mcf)
    log = os.path.join(tmp, "log")
    with open(log, "w") as f:
        rc = subprocess.call(
            [binary, "-merge=1", "-use_counters=0", f"-merge_control_file={mcf}", out] + corpora,
            stdout=f,
            stderr=subprocess.STDOUT,
        )
    if rc != 0:
        sys.stdout.write(open(log).read()[-4000:])
        sys.exit(f"merge failed ({rc}): an input crashes? see above")
    lines = open(mcf).read().splitlines()
    n = int(lines[0])
    edges = {}
    for line in lines[2 + n :]:
        if line.startswith("COV "):
            parts = line.split()
            edges[int(parts[1])] = set(map(int, parts[2:]))
    if union:
        return set().union(*edges.values()) if edges else set()
    return edges


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("target")
    ap.add_argument("corpora", nargs="*")
    ap.add_argument("--max-files", type=int, default=50)
    ap.add_argument("--max-size", type=int, default=2048, help="skip larger inputs")
    args = ap.parse_args()

    target_dir = os.environ.get("CARGO_TARGET_DIR", os.path.join(here, "target"))
    binary = os.path.join(target_dir, "x86_64-unknown-linux-gnu", "release", args.target)
    if not os.path.exists(binary):
        sys.exit(f"{binary} not found: run `cargo fuzz build -O {args.target}` first")
    out_dir = os.path.join(here, "corpus", args.target)
    corpora = args.corpora or [
        d
        for d in (
            out_dir,
            os.path.join(here, "seeds", args.target),
            os.path.join(here, "corpus-work", args.target),
        )
        if os.path.isdir(d)
    ]

    with tempfile.TemporaryDirectory() as tmp:
        # 1. libFuzzer's merge: the inputs that add an edge (smallest first).
        merged = os.path.join(tmp, "merged")
        os.mkdir(merged)
        run_merge(binary, tmp, merged, corpora)
        # 2. The edges of each of them, one process each (the control file of a merge lists
        #    only the edges an input adds to the inputs before it).
        candidates = {}
        for name in sorted(os.listdir(merged)):
            data = open(os.path.join(merged, name), "rb").read()
            if len(data) > args.max_size:
                continue
            one = os.path.join(tmp, "one")
            shutil.rmtree(one, ignore_errors=True)
            os.mkdir(one)
            with open(os.path.join(one, "input"), "wb") as f:
                f.write(data)
            out = os.path.join(tmp, "out")
            shutil.rmtree(out, ignore_errors=True)
            os.mkdir(out)
            cov = run_merge(binary, tmp, out, [one]).get(0, set())
            candidates[hashlib.sha1(data).hexdigest()] = (data, cov)
        every = run_merge(binary, tmp, os.path.join(tmp, "all"), [merged], union=True)
        # 3. Greedy cover.
        chosen = []
        covered = set()
        while len(chosen) < args.max_files:
            pick = max(
                candidates.items(),
                key=lambda kv: (len(kv[1][1] - covered), -len(kv[1][0])),
                default=None,
            )
            if pick is None or not (pick[1][1] - covered):
                break
            digest, (data, cov) = pick
            chosen.append((digest, data))
            covered |= cov
            del candidates[digest]

    if os.path.isdir(out_dir):
        shutil.rmtree(out_dir)
    os.makedirs(out_dir)
    for digest, data in chosen:
        with open(os.path.join(out_dir, digest), "wb") as f:
            f.write(data)
    size = sum(len(d) for _, d in chosen)
    print(
        f"{args.target}: {len(chosen)} inputs, {size} bytes, {len(covered)} of {len(every)} edges "
        f"({100 * len(covered) / max(1, len(every)):.1f}%) of the merged corpus"
    )


if __name__ == "__main__":
    main()

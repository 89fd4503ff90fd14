#!/usr/bin/env python3
"""Commit the built notebooks to the `notebooks` branch, where Colab and nbgitpuller find them.

    python scripts/publish_notebooks.py            # build, then commit to the local branch
    git push origin notebooks                      # publish it

The main branch keeps only the Jupytext `.py` sources (no outputs, readable diffs); Colab
opens `.ipynb` files from GitHub. This script builds them (`arcourse build`) and records
lectures/*.ipynb and exercises/*.ipynb (the students' versions; never solutions/), with
README.md and LICENSE, as one new commit on the branch, whose message names the source
commit. Your checkout, index and working tree are left as they are (it writes the commit
with git's plumbing through a temporary index). Run it on a release tag, so the notebooks
match the tag their setup cell installs (see the README's "Releases").
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from arcourse.hosting import NOTEBOOKS_BRANCH

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED = ("lectures/[0-9][0-9]_*.ipynb", "exercises/ex[0-9][0-9]_*.ipynb")


def _git(*args: str, root: Path, env: dict | None = None, stdin: str | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=root, env=env, input=stdin, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def published_files(root: Path) -> list[Path]:
    files = [p for pattern in PUBLISHED for p in sorted(root.glob(pattern))]
    return files + [root / name for name in ("README.md", "LICENSE") if (root / name).exists()]


def publish(root: Path = ROOT, branch: str = NOTEBOOKS_BRANCH, build: bool = True) -> str:
    """Commit the built notebooks of `root` to `branch`; return the new commit's id."""
    if build:
        from arcourse.cli.build import build as build_notebooks

        build_notebooks(root)
    files = published_files(root)
    if not any(p.suffix == ".ipynb" for p in files):
        raise SystemExit("no built notebooks: run `arcourse build` first")
    source = _git("rev-parse", "--short", "HEAD", root=root)
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, GIT_INDEX_FILE=str(Path(tmp) / "index"))
        _git("read-tree", "--empty", root=root, env=env)
        for path in files:
            blob = _git("hash-object", "-w", str(path), root=root)
            _git("update-index", "--add", "--cacheinfo", f"100644,{blob},{path.relative_to(root).as_posix()}",
                 root=root, env=env)
        tree = _git("write-tree", root=root, env=env)
    parent = subprocess.run(["git", "rev-parse", "--verify", "-q", f"refs/heads/{branch}"], cwd=root,
                            capture_output=True, text=True).stdout.strip()
    if parent and _git("rev-parse", f"{parent}^{{tree}}", root=root) == tree:
        return parent  # nothing changed
    commit = _git("commit-tree", tree, *(["-p", parent] if parent else []),
                  "-m", f"Built notebooks of {source}", root=root)
    _git("update-ref", f"refs/heads/{branch}", commit, root=root)
    return commit


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--branch", default=NOTEBOOKS_BRANCH, help=f"branch to commit to (default {NOTEBOOKS_BRANCH})")
    parser.add_argument("--no-build", action="store_true", help="commit the .ipynb as they are")
    args = parser.parse_args(argv)
    commit = publish(ROOT, args.branch, build=not args.no_build)
    print(f"{args.branch} is at {commit[:12]}; publish it with: git push origin {args.branch}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Generate the Python contracts from proto/ into libs/kabinet/<service>/v1 (``make proto``).

The generated modules are committed so that a product backend can install ``kabinet`` alone and
get the contracts; ``python -m kabinet.protogen --check`` (run by the tests) fails when they are
stale. Output is written to a scratch folder first and then synced, so a failed run changes
nothing.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROTO_ROOT = ROOT / "proto"
OUTPUT_ROOT = ROOT / "libs"
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py", "_pb2_grpc.pyi")
PACKAGE_DOC = '"""Generated from proto/{path}: do not edit, run `make proto`."""\n'


def proto_files() -> list[Path]:
    return sorted(PROTO_ROOT.glob("kabinet/*/v1/*.proto"))


def generate(into: Path) -> None:
    """Run protoc (grpcio-tools with the mypy plugins) for every proto file into ``into``."""
    from grpc_tools import protoc  # a dev dependency: only needed to regenerate

    well_known = Path(protoc.__file__).parent / "_proto"
    bin_dir = str(Path(sys.executable).parent)  # protoc-gen-mypy lives beside the interpreter
    os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"-I{well_known}",
        f"--python_out={into}",
        f"--grpc_python_out={into}",
        f"--mypy_out={into}",
        f"--mypy_grpc_out={into}",
        *(str(p.relative_to(PROTO_ROOT)) for p in proto_files()),
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    for package in {p.parent.relative_to(PROTO_ROOT) for p in proto_files()}:
        for level in (package.parent, package):
            init = into / level / "__init__.py"
            if not init.exists():
                init.write_text(PACKAGE_DOC.format(path=level))


def _generated(root: Path) -> dict[Path, Path]:
    files = {}
    for package in {p.parent.relative_to(PROTO_ROOT) for p in proto_files()}:
        for level in (package.parent, package):
            init = root / level / "__init__.py"
            if init.exists():
                files[init.relative_to(root)] = init
        for path in (root / package).glob("*"):
            if path.name.endswith(GENERATED_SUFFIXES):
                files[path.relative_to(root)] = path
    return files


def stale_files() -> list[str]:
    """Generated files that differ from what proto/ would produce now (empty when in sync)."""
    with tempfile.TemporaryDirectory() as scratch:
        generate(Path(scratch))
        fresh = _generated(Path(scratch))
        current = _generated(OUTPUT_ROOT)
        differ = [
            str(rel)
            for rel in sorted(set(fresh) | set(current))
            if rel not in fresh
            or rel not in current
            or not filecmp.cmp(fresh[rel], current[rel], shallow=False)
        ]
    return differ


def sync() -> list[str]:
    """Regenerate and write the changed files into libs/; returns what changed."""
    with tempfile.TemporaryDirectory() as scratch:
        generate(Path(scratch))
        fresh = _generated(Path(scratch))
        current = _generated(OUTPUT_ROOT)
        changed = []
        for rel, src in fresh.items():
            dst = OUTPUT_ROOT / rel
            if rel not in current or not filecmp.cmp(src, dst, shallow=False):
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, dst)
                changed.append(str(rel))
        for rel in set(current) - set(fresh):
            (OUTPUT_ROOT / rel).unlink()
            changed.append(f"{rel} (removed)")
    return sorted(changed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the generated code is stale")
    args = parser.parse_args()
    if args.check:
        stale = stale_files()
        if stale:
            raise SystemExit("stale generated code, run `make proto`: " + ", ".join(stale))
        print("generated code is up to date")
        return
    for line in sync() or ["nothing changed"]:
        print(line)


if __name__ == "__main__":
    main()

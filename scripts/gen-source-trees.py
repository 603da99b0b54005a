#!/usr/bin/env python3
"""Generate N interdependent Python source trees for benchmarks, in the three packaging styles.

    gen-source-trees.py OUT_DIR [N] [SEED]

Package i depends on up to five packages with a lower index (so the graph is a DAG with depth),
plus a few third-party names; a third each use PEP 621 pyproject.toml, setup.cfg, and setup.py.
"""

import pathlib
import random
import sys

THIRD_PARTY = ["numpy>=1.24", "requests", "pyyaml>=6", "tornado>=6.3", "attrs", "click>=8"]


def main():
    out = pathlib.Path(sys.argv[1])
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 7)
    for i in range(count):
        name = f"pkg{i:05d}"
        deps = [f"pkg{j:05d}>=1.{j % 7}" for j in sorted(rng.sample(range(i), min(i, rng.randint(0, 5))))]
        deps += rng.sample(THIRD_PARTY, rng.randint(0, 2))
        extras = {"test": ["pytest>=7"]} if i % 4 == 0 else {}
        root = out / name
        (root / name).mkdir(parents=True, exist_ok=True)
        (root / name / "__init__.py").write_text(f'__version__ = "1.{i % 10}.0"\n')
        style = i % 3
        if style == 0:
            lines = [f'[project]', f'name = "{name}"', f'version = "1.{i % 10}.0"', "dependencies = ["]
            lines += [f'    "{d}",' for d in deps] + ["]"]
            if extras:
                lines += ["[project.optional-dependencies]", 'test = ["pytest>=7"]']
            (root / "pyproject.toml").write_text("\n".join(lines) + "\n")
        elif style == 1:
            body = "".join(f"    {d}\n" for d in deps)
            text = f"[metadata]\nname = {name}\nversion = 1.{i % 10}.0\n\n[options]\npackages = {name}\ninstall_requires =\n{body}"
            if extras:
                text += "\n[options.extras_require]\ntest = pytest>=7\n"
            (root / "setup.cfg").write_text(text)
            (root / "pyproject.toml").write_text('[build-system]\nrequires = ["setuptools"]\n')
        else:
            req = ",\n".join(f'    "{d}"' for d in deps)
            (root / "setup.py").write_text(
                "from setuptools import setup\n\n"
                f"REQUIRES = [\n{req}\n]\n\n"
                f"setup(\n    name='{name}',\n    version='1.{i % 10}.0',\n    packages=['{name}'],\n"
                f"    install_requires=REQUIRES,\n    extras_require={extras!r},\n)\n"
            )


if __name__ == "__main__":
    main()

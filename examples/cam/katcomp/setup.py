"""katcomp: the component supervisor that keeps a node's CAM processes running."""

from setuptools import setup

VERSION = "0.5.0"

REQUIRES = [
    "katcore>=1.3",
    "katconfserver>=1.0",
]

setup(
    name="katcomp",
    version=VERSION,
    description="Component supervisor for CAM nodes",
    packages=["katcomp"],
    python_requires=">=3.9",
    install_requires=REQUIRES,
    entry_points={"console_scripts": ["kat-comp = katcomp.supervisor:main"]},
)

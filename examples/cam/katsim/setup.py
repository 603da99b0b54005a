from setuptools import find_packages, setup

INSTALL_REQUIRES = ["katcore>=1.3"]

EXTRAS = {
    "plots": ["matplotlib>=3.7"],
}

setup(
    name="katsim",
    version="0.7.0",
    description="Simulated receptors and ancillary devices for testing without a telescope",
    packages=find_packages(exclude=["tests"]),
    python_requires=">=3.9",
    install_requires=INSTALL_REQUIRES + ["katpoint>=0.10"],
    extras_require=EXTRAS,
    entry_points={"console_scripts": ["kat-sim = katsim.simulator:main"]},
)

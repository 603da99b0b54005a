from setuptools import setup

setup(
    name="katproxy",
    version="0.3.0",
    description="Proxies KATCP requests from operators to the devices of a node",
    packages=["katproxy"],
    python_requires=">=3.9",
    install_requires=[
        "katcp>=0.9",
        "katcore>=1.3",
    ],
    extras_require={
        "fast": ["uvloop>=0.17; sys_platform != 'win32'"],
    },
    entry_points={
        "console_scripts": [
            "kat-proxy = katproxy.proxy:main",
        ],
    },
)

"""Build the compiled cores (Cython): AIS framing and payloads, radar association.
Everything else is declared in pyproject.toml.

Set MISTA_EXT to a comma-separated list of extension names (e.g. ``mista.ais._framing``)
to build only those while working on one of them.
"""

import os

from Cython.Build import cythonize
from setuptools import Extension, setup

EXTENSIONS = [
    Extension(
        "mista.ais._framing",
        ["src/mista/ais/_framing.pyx"],
        depends=["src/mista/ais/_framing_core.h"],
    ),
    Extension(
        "mista.ais._payload",
        ["src/mista/ais/_payload.pyx"],
        depends=["src/mista/ais/_payload_types.h"],
    ),
    # No fused multiply-add: association must compute exactly what Python would.
    Extension(
        "mista.fuse._radar_scan",
        ["src/mista/fuse/_radar_scan.pyx"],
        extra_compile_args=["-ffp-contract=off"],
    ),
]

only = {name for name in os.environ.get("MISTA_EXT", "").split(",") if name}
chosen = [ext for ext in EXTENSIONS if not only or ext.name in only]
for ext in chosen:
    ext.extra_compile_args = ["-O3", *ext.extra_compile_args]

setup(
    ext_modules=cythonize(
        chosen,
        language_level=3,
        compiler_directives={"boundscheck": False, "wraparound": False, "cdivision": True},
    )
)

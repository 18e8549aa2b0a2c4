"""Builds the Cython sources in _ext/ into tensorstore_py._ext.<name>."""
import glob
import os

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

HERE = os.path.dirname(os.path.abspath(__file__))

# Per-module link libraries: a kernel that calls into a C library names it here.
LIBRARIES = {
    "zlib_codec": ["z"],
}


def _extensions():
    exts = []
    for path in sorted(glob.glob(os.path.join("_ext", "*.pyx"))):
        name = os.path.splitext(os.path.basename(path))[0]
        exts.append(
            Extension(
                f"tensorstore_py._ext.{name}",
                [path],
                include_dirs=[numpy.get_include(), "_ext"],
                libraries=LIBRARIES.get(name, []),
                extra_compile_args=["-O3"],
                define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
            )
        )
    return exts


setup(
    ext_modules=cythonize(
        _extensions(),
        language_level=3,
        compiler_directives={"boundscheck": False, "wraparound": False, "cdivision": True},
    ),
)

"""The C++ toolchain of bit-accurate emulation: finding g++ and naming its version.

Below both :mod:`precml_widgets.fpga.emulate` (which compiles with g++) and
:mod:`precml_widgets.fpga.cache` (whose keys name the compiler), so neither imports the other
for it.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess

from precml_widgets.errors import PrecmlError

__all__ = ["FirmwareBuildError", "compiler_version", "cxx_flags"]


class FirmwareBuildError(PrecmlError, RuntimeError):
    """g++ could not compile the generated firmware; the message quotes the first errors."""


@functools.lru_cache(maxsize=1)
def compiler_version() -> str:
    """First line of ``g++ --version`` (part of every emulation cache key).

    Raises:
        FirmwareBuildError: g++ is not on the ``PATH``; the message says how to install it.
    """
    gxx = shutil.which("g++")
    if gxx is None:
        raise FirmwareBuildError(
            "g++ was not found: bit-accurate emulation compiles hls4ml's C++ with it. Install "
            "it (Debian/Ubuntu: apt-get install g++; conda: conda install gxx_linux-64)."
        )
    out = subprocess.run([gxx, "--version"], capture_output=True, text=True, check=False)
    return out.stdout.splitlines()[0] if out.stdout else "g++ (unknown version)"


@functools.lru_cache(maxsize=1)
def cxx_flags() -> tuple[str, ...]:
    """The flags of hls4ml's build_lib.sh (-O3, newest supported C++ standard) plus OpenMP."""
    flags = ["-O3", "-fPIC", "-shared", "-fopenmp", "-w"]
    for extra, fallback in (("-std=c++23", "-std=c++11"), ("-fno-gnu-unique", None)):
        probe = subprocess.run(
            ["g++", "-Werror", "-fsyntax-only", extra, "-xc++", "-", "-o", os.devnull],
            input="",
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode == 0:
            flags.append(extra)
        elif fallback:
            flags.append(fallback)
    return tuple(flags)

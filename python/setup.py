# setup.py — builds the vdds._vdds extension for pip (pyproject.toml has the metadata).
# Inside the vdds repository it compiles the library's own C sources (the list in
# ../CMakeLists.txt) into the extension, so nothing has to be installed first;
# elsewhere it links the libvdds that pkg-config finds (VDDS_USE_PKGCONFIG=1 forces that).
import os
import re
import shlex
import subprocess

from setuptools import Extension, setup

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
MODULE_SOURCES = [os.path.join("src", f) for f in ("module.c", "publisher.c", "subscriber.c")]


def pkg_config(*args):
    try:
        out = subprocess.run(
            ["pkg-config", *args], check=True, capture_output=True, text=True
        ).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise SystemExit(f"vdds: pkg-config {' '.join(args)} failed: {e}") from None
    return shlex.split(out)


def library_sources():
    """The library's sources as CMake lists them, or None outside the repository."""
    try:
        with open(os.path.join(REPO, "CMakeLists.txt")) as f:
            cmake = f.read()
    except OSError:
        return None
    m = re.search(r"set\(VDDS_SOURCES\s+([^)]*)\)", cmake)
    if not m:
        return None
    # setuptools takes sources relative to setup.py only
    return [os.path.join("..", s) for s in m.group(1).split()]


def extension():
    flags = ["-std=c11", "-Wall", "-Wextra"]
    sources = None if os.environ.get("VDDS_USE_PKGCONFIG") else library_sources()
    if sources:  # the library compiled in, its symbols kept private
        uring = pkg_config("--cflags", "--libs", "liburing")
        return Extension(
            "vdds._vdds",
            sources=MODULE_SOURCES + sources,
            include_dirs=[os.path.join(REPO, d) for d in ("include", "core", "notify")],
            define_macros=[("_GNU_SOURCE", None)],
            extra_compile_args=flags + [f for f in uring if f.startswith("-I")],
            extra_link_args=[
                "-pthread",
                "-Wl,--version-script=" + os.path.join(HERE, "src", "_vdds.map"),
            ]
            + [f for f in uring if not f.startswith("-I")],
        )
    vdds = pkg_config("--cflags", "--libs", "vdds")  # an installed libvdds
    return Extension(
        "vdds._vdds",
        sources=MODULE_SOURCES,
        define_macros=[("_GNU_SOURCE", None)],
        extra_compile_args=flags + [f for f in vdds if f.startswith("-I")],
        extra_link_args=[f for f in vdds if not f.startswith("-I")],
        # found again at run time, wherever the prefix is
        runtime_library_dirs=[f[2:] for f in vdds if f.startswith("-L")],
    )


setup(ext_modules=[extension()])

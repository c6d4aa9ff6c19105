# setup.py — builds the vdds._vdds extension for pip (pyproject.toml has the metadata).
# The extension is a consumer like any other: it includes only include/vdds.h and
# links a libvdds. Inside the vdds repository that library is built first, as a
# static library of the sources (and with the private include directories) that
# ../CMakeLists.txt gives its vdds_objects target, so nothing has to be installed
# and the library's symbols stay inside the extension; elsewhere it links the
# libvdds that pkg-config finds (VDDS_USE_PKGCONFIG=1 forces that).
import os
import re
import shlex
import subprocess

from setuptools import Extension, setup
from setuptools.command.build_clib import build_clib
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
MODULE_SOURCES = [os.path.join("src", f) for f in ("module.c", "publisher.c", "subscriber.c", "topics.c")]


def pkg_config(*args):
    try:
        out = subprocess.run(
            ["pkg-config", *args], check=True, capture_output=True, text=True
        ).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise SystemExit(f"vdds: pkg-config {' '.join(args)} failed: {e}") from None
    return shlex.split(out)


def cmake_library():
    """The library's sources and private include directories as
    ../CMakeLists.txt lists them, or None outside the repository."""
    try:
        with open(os.path.join(REPO, "CMakeLists.txt")) as f:
            cmake = f.read()
    except OSError:
        return None
    sources = re.search(r"set\(VDDS_SOURCES\s+([^)]*)\)", cmake)
    dirs = re.search(r"target_include_directories\(vdds_objects\s[^)]*?PRIVATE\s+([^)]*)\)", cmake)
    if not sources or not dirs:
        return None
    here = "${CMAKE_CURRENT_SOURCE_DIR}/"
    private = [d[len(here):] for d in dirs.group(1).split() if d.startswith(here)]
    # setuptools takes sources relative to setup.py only
    return ([os.path.join("..", s) for s in sources.group(1).split()],
            [os.path.join(REPO, d) for d in private])


FLAGS = ["-std=c11", "-Wall", "-Wextra"]


class BuildClib(build_clib):
    def build_libraries(self, libraries):
        # the objects of ../core/x.c go to <build_temp>/../core/x.o, a path
        # the kernel resolves only once build_temp exists
        os.makedirs(self.build_temp, exist_ok=True)
        super().build_libraries(libraries)


class BuildExt(build_ext):
    def run(self):
        # `setup.py build_ext` alone (an editable install) needs the library too
        if self.distribution.has_c_libraries():
            self.run_command("build_clib")
        super().run()


def bundled(library):
    """The extension and, built before it, the repository's libvdds as a
    static library (build_clib) that it links."""
    sources, private = library
    uring = pkg_config("--cflags", "--libs", "liburing")
    clib = ("vdds_bundled", {
        "sources": sources,
        "include_dirs": [os.path.join(REPO, "include")] + private,
        "macros": [("_GNU_SOURCE", None)],
        # position-independent: linked into a shared object; hidden: the
        # version script below keeps every symbol but the module's inside
        "cflags": FLAGS + ["-fPIC", "-fvisibility=hidden"]
        + [f for f in uring if f.startswith("-I")],
    })
    ext = Extension(
        "vdds._vdds",
        sources=MODULE_SOURCES,
        include_dirs=[os.path.join(REPO, "include")],
        define_macros=[("_GNU_SOURCE", None)],
        extra_compile_args=FLAGS,
        extra_link_args=[
            "-pthread",
            "-Wl,--version-script=" + os.path.join(HERE, "src", "_vdds.map"),
        ]
        + [f for f in uring if not f.startswith("-I")],
    )
    return [clib], ext


def installed():
    """The extension against the libvdds pkg-config finds."""
    vdds = pkg_config("--cflags", "--libs", "vdds")
    return [], Extension(
        "vdds._vdds",
        sources=MODULE_SOURCES,
        define_macros=[("_GNU_SOURCE", None)],
        extra_compile_args=FLAGS + [f for f in vdds if f.startswith("-I")],
        extra_link_args=[f for f in vdds if not f.startswith("-I")],
        # found again at run time, wherever the prefix is
        runtime_library_dirs=[f[2:] for f in vdds if f.startswith("-L")],
    )


library = None if os.environ.get("VDDS_USE_PKGCONFIG") else cmake_library()
libraries, ext = bundled(library) if library else installed()
setup(libraries=libraries, ext_modules=[ext], cmdclass={"build_clib": BuildClib, "build_ext": BuildExt})

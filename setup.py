"""Build cydot's kernels once per instruction-set level; metadata lives in pyproject.toml.

Each level is a separate extension module compiled with its own flags; cydot
imports the best one the CPU can run (cydot/_levels.py). A level the compiler
cannot target (x86-64 levels on another architecture) is left out. The kernels
run on cydot's own POSIX threads (cydot/_team.h), so no OpenMP is needed.
"""

import os
import tempfile

from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

# Instruction-set levels, best first, and the flags that target them. gcc prefers
# 256-bit vectors even on AVX-512 hardware; the kernel needs the 512-bit ones.
LEVELS = {
    "x86_64_v4": ["-march=x86-64-v4", "-mprefer-vector-width=512"],
    "x86_64_v3": ["-march=x86-64-v3"],
    "baseline": [],
}
# -fwrapv: integer products wrap around as numpy's do, instead of being undefined.
# -fcx-limited-range: complex products use the textbook formula, as BLAS does.
# -falign-loops=64: loops start on a cache line; with identical code, where the
# float32 kernel's loop landed changed the baseline level's speed by 3%.
COMMON_FLAGS = ["-O3", "-fwrapv", "-fcx-limited-range", "-falign-loops=64"]
THREAD_FLAGS = ["-pthread"]
# CYDOT_SANITIZE=address,undefined builds a checked copy (make sanitize tests one).
SANITIZE = os.environ.get("CYDOT_SANITIZE")

CYTHON_DIRECTIVES = {
    "language_level": 3,
    "boundscheck": bool(SANITIZE),
    "wraparound": False,
    "initializedcheck": False,
    "cdivision": True,
}

def compiles(compiler, flags):
    """Whether an empty program compiles and links with `flags`."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "probe.c")
        with open(path, "w") as file:
            file.write("int main(void) { return 0; }\n")
        try:
            objects = compiler.compile([path], output_dir=folder, extra_postargs=flags)
            compiler.link_executable(objects, os.path.join(folder, "probe"), extra_postargs=flags)
        except Exception:  # CompileError, LinkError, or a missing compiler driver
            return False
    return True


class BuildLevels(build_ext):
    """Adds each level's flags and drops levels the compiler can't target."""

    def finalize_options(self):
        super().finalize_options()
        self.parallel = self.parallel or os.cpu_count()  # one compiler per level

    def build_extensions(self):
        common = [flag for flag in COMMON_FLAGS if compiles(self.compiler, [flag])]
        threads = THREAD_FLAGS if compiles(self.compiler, THREAD_FLAGS) else []
        checked = [f"-fsanitize={SANITIZE}", "-fno-omit-frame-pointer"] if SANITIZE else []
        print(f"cydot: sanitizers: {SANITIZE or 'none'}")
        supported = []
        for extension in self.extensions:
            flags = LEVELS[extension.name.rsplit("_kernels_", 1)[1]]
            if compiles(self.compiler, flags):
                extension.extra_compile_args += common + threads + flags + checked
                extension.extra_link_args += threads + checked
                supported.append(extension)
            else:
                print(f"cydot: skipping {extension.name}, the compiler rejects {flags}")
        self.extensions = supported
        super().build_extensions()


extensions = [
    Extension(
        f"cydot._kernels_{level}",
        [f"cydot/_kernels_{level}.pyx"],
        define_macros=[(f"CYDOT_LEVEL_{level.upper()}", "1")],
    )
    for level in LEVELS
]

setup(
    ext_modules=cythonize(extensions, compiler_directives=CYTHON_DIRECTIVES),
    cmdclass={"build_ext": BuildLevels},
)

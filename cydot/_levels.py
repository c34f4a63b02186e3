"""Which instruction-set build of the kernels to use: the best this CPU runs, or the one forced."""

import importlib
import os

try:  # numpy >= 2
    from numpy._core._multiarray_umath import __cpu_features__ as _CPU_FEATURES
except ImportError:  # numpy 1.x
    from numpy.core._multiarray_umath import __cpu_features__ as _CPU_FEATURES

# Best first, with the CPU features each level's compiler flags may use.
LEVELS = {
    "x86-64-v4": ("AVX512F", "AVX512CD", "AVX512BW", "AVX512DQ", "AVX512VL"),
    "x86-64-v3": ("AVX", "AVX2", "FMA3", "F16C", "BMI", "BMI2", "LZCNT", "MOVBE"),
    "baseline": (),
}
ENVIRONMENT_VARIABLE = "CYDOT_LEVEL"


def built_levels():
    """Levels whose kernels were compiled (setup.py leaves out those the compiler can't target)."""
    return [level for level in LEVELS if _find(level) is not None]


def runnable_levels():
    """Built levels whose instructions this CPU executes, best first."""
    return [
        level
        for level in built_levels()
        if all(_CPU_FEATURES.get(feature, False) for feature in LEVELS[level])
    ]


def load(level=None):
    """The kernels module for `level`; by default $CYDOT_LEVEL, else the best runnable one."""
    if not built_levels():
        raise ImportError(
            "cydot: no compiled kernels found next to cydot/_levels.py; "
            "build them with `make test` (or `pip install -e .`) from the repository root"
        )
    level = level or os.environ.get(ENVIRONMENT_VARIABLE) or runnable_levels()[0]
    if level not in LEVELS:
        raise ValueError(f"{ENVIRONMENT_VARIABLE} must be one of {list(LEVELS)}, got {level!r}")
    if level not in runnable_levels():
        raise ImportError(
            f"cydot level {level!r} cannot run here: built {built_levels()}, "
            f"runnable on this CPU {runnable_levels()}"
        )
    return importlib.import_module(_module_name(level))


def _module_name(level):
    return f"cydot._kernels_{level.replace('-', '_')}"


def _find(level):
    return importlib.util.find_spec(_module_name(level))

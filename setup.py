"""Build of the compiled engine; everything else about the package is in pyproject.toml."""

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


class BuildWithAHint(build_ext):
    """``build_ext`` that says in one line what to install when there is no C compiler."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as error:  # distutils' CompileError, or no compiler found at all
            raise SystemExit(
                "detection-eval: building its C engine failed; install a C compiler and "
                "Python's headers (Debian/Ubuntu: apt-get install gcc python3-dev) or use a "
                f"published wheel ({type(error).__name__}: {error})"
            ) from None


# -ffp-contract=off: no fused multiply-add, so that every double equals pycocotools'.
# Buffer helpers and box IoU, included by the kernels and the masks; the reading of RLE
# strings, by the masks and the results scanner (see their comments).
SHARED_HEADER = "evaluator/_engine.h"
RLE_STRING_HEADER = "evaluator/masks/_rle_string.h"
FLAGS = ["-O3", "-ffp-contract=off", "-fno-fast-math", "-std=c11", "-Wall", "-Wextra"]

setup(
    ext_modules=[
        Extension(
            "evaluator.metrics._kernels",
            ["evaluator/metrics/_kernels.c"],
            depends=[SHARED_HEADER],
            extra_compile_args=FLAGS,
        ),
        Extension(
            "evaluator.input._scan",
            ["evaluator/input/_scan.c"],
            depends=[RLE_STRING_HEADER],
            extra_compile_args=FLAGS,
        ),
        Extension(
            "evaluator.masks._rle",
            ["evaluator/masks/_rle.c"],
            depends=[SHARED_HEADER, RLE_STRING_HEADER],
            extra_compile_args=FLAGS,
        ),
    ],
    cmdclass={"build_ext": BuildWithAHint},
)

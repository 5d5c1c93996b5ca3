"""Command line: compile and cache the fused LayerNorm library (see tfmodels.ops.builder).

    python -m tfmodels.ops.build [--force] [--clean] [--verbose]

Importing tfmodels already builds the library on first use; this entry point lets an install
step do it up front and reports the result (exit status 1 when it cannot be built).
"""

import sys

from tfmodels.ops.builder import main

if __name__ == "__main__":
    sys.exit(main())

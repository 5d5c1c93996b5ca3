"""``tfmodels.io`` for the data tools, without importing TensorFlow.

``import tfmodels`` loads the fused LayerNorm library and with it TensorFlow (3-4 s of
start-up, after which forking worker processes is unsafe). ``tfmodels/io.py`` itself needs
TensorFlow only for non-local paths (``gs://``, ``ram://``...), which it imports on first
use. So while the ``tfmodels`` package is not imported, this loads that one file, registered
as ``tfmodels.io``; a later ``import tfmodels`` reuses the same module (its ``__init__``
imports ``tfmodels.io``). ``create_pretraining_data.py`` keeps its fork-based workers and
the session tools fail fast on bad files before TensorFlow loads.

    from pipelines.fileio import io
"""

from __future__ import annotations

import importlib.util
import os
import sys


def _load_io():
    if "tfmodels.io" in sys.modules:
        return sys.modules["tfmodels.io"]
    if "tfmodels" in sys.modules:
        from tfmodels import io

        return io
    package = importlib.util.find_spec("tfmodels")
    path = os.path.join(list(package.submodule_search_locations)[0], "io.py")
    spec = importlib.util.spec_from_file_location("tfmodels.io", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["tfmodels.io"] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules["tfmodels.io"]
        raise
    return module


io = _load_io()

"""Compatibility shim: the reader moved into the ``ttckpt`` package (``ttckpt.format``).

``import ttc`` (with python/ on the path) and ``python3 python/ttc.py FILE`` keep working;
new code should use ``import ttckpt`` or ``python3 -m ttckpt FILE``.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ttckpt.format import *  # noqa: E402,F401,F403
from ttckpt.format import __all__  # noqa: E402,F401

if __name__ == "__main__":
    from ttckpt.__main__ import main
    sys.exit(main())

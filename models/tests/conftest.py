import os
import sys

# tests import the tooling as `models.pixel_sail` from the repository root
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

"""Make tests/reference.py importable: the correct backward that never ships in the package."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

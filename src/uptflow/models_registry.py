"""Resolving ``--model``: moved to :mod:`uptflow.inference.models`; this name stays for existing imports.

``import uptflow.models_registry`` gives the very module object ``uptflow.inference.models`` (not a copy),
so attributes set on one (tests monkeypatch them) are seen by both.
"""

import sys

from uptflow.inference import models as _module

sys.modules[__name__] = _module

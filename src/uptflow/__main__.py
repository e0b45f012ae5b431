"""``python -m uptflow`` = the ``uptflow`` command (also what ``torchrun -m uptflow train`` runs)."""

import sys

from uptflow.cli import main

sys.exit(main())

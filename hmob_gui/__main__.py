"""``python -m hmob_gui`` opens the app."""
import sys

from .gui.app import main

sys.exit(main())

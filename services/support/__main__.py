"""``python -m support``: serve the support service."""

import sys

from kabinet.service import run_main
from support.app import serve
from support.config import SupportSettings

if __name__ == "__main__":
    sys.exit(run_main("support", SupportSettings, serve))

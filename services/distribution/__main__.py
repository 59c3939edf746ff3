"""``python -m distribution``: serve the distribution service."""

import sys

from distribution.app import serve
from distribution.config import DistributionSettings
from kabinet.service import run_main

if __name__ == "__main__":
    sys.exit(run_main("distribution", DistributionSettings, serve))

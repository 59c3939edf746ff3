"""``python -m identity``: serve the identity service."""

import sys

from identity.app import serve
from identity.config import IdentitySettings
from kabinet.service import run_main

if __name__ == "__main__":
    sys.exit(run_main("identity", IdentitySettings, serve))

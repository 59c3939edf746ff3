"""``python -m subscription``: serve the subscription service."""

import sys

from kabinet.service import run_main
from subscription.app import serve
from subscription.config import SubscriptionSettings

if __name__ == "__main__":
    sys.exit(run_main("subscription", SubscriptionSettings, serve))

"""Every code the subscription service raises has its English and Russian message."""

from kabinet.messages import CATALOG
from subscription.domain import errors


def test_every_code_has_both_messages() -> None:
    for code in errors.CODES:
        english, russian = CATALOG[code]
        assert english, code
        assert russian, code
        assert english != russian, code

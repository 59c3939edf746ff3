"""The stable codes the subscription service answers with (messages:
``kabinet.catalog.subscription``)."""

from __future__ import annotations

from kabinet.errors import DomainError, ErrorKind

CODE_MALFORMED = "code.malformed"
CODE_CHECK_FAILED = "code.check_failed"
CODE_NOT_FOUND = "code.not_found"
CODE_ALREADY_USED = "code.already_used"
CODE_TOO_MANY_ATTEMPTS = "code.too_many_attempts"
PLAN_NOT_FOUND = "plan.not_found"
PLAN_OPTION_NOT_FOUND = "plan.option_not_found"
CODES_COUNT_INVALID = "codes.count_invalid"
ACCOUNT_ID_INVALID = "account.id_invalid"
FEATURE_INVALID = "feature.invalid"
ORDER_NOT_FOUND = "order.not_found"
ORDER_KEY_INVALID = "order.idempotency_key_invalid"
ORDER_KEY_REUSED = "order.idempotency_key_reused"
ORDER_EMAIL_INVALID = "order.email_invalid"
ORDER_NOT_SOLD_IN_REGION = "order.not_sold_in_region"
PAYMENT_UNAVAILABLE = "payment.unavailable"
PAYMENT_EVENT_REPLAYED = "payment.event_replayed"
PAYMENT_MISMATCH = "payment.mismatch"
PAYMENT_NOT_RECORDED = "payment.not_recorded_yet"
SUBSCRIPTION_NOT_FOUND = "subscription.not_found"
SUBSCRIPTION_NOT_ACTIVE = "subscription.not_active"
SEATS_LIMIT_REACHED = "seats.limit_reached"
DEVICE_ID_INVALID = "device.id_invalid"
PLAN_INVALID = "plan.invalid"

CODES = (
    CODE_MALFORMED,
    CODE_CHECK_FAILED,
    CODE_NOT_FOUND,
    CODE_ALREADY_USED,
    CODE_TOO_MANY_ATTEMPTS,
    PLAN_NOT_FOUND,
    PLAN_OPTION_NOT_FOUND,
    CODES_COUNT_INVALID,
    ACCOUNT_ID_INVALID,
    FEATURE_INVALID,
    ORDER_NOT_FOUND,
    ORDER_KEY_INVALID,
    ORDER_KEY_REUSED,
    ORDER_EMAIL_INVALID,
    ORDER_NOT_SOLD_IN_REGION,
    PAYMENT_UNAVAILABLE,
    PAYMENT_EVENT_REPLAYED,
    PAYMENT_MISMATCH,
    PAYMENT_NOT_RECORDED,
    SUBSCRIPTION_NOT_FOUND,
    SUBSCRIPTION_NOT_ACTIVE,
    SEATS_LIMIT_REACHED,
    DEVICE_ID_INVALID,
    PLAN_INVALID,
)


def code_malformed() -> DomainError:
    return DomainError(ErrorKind.INVALID_ARGUMENT, CODE_MALFORMED)


def code_check_failed() -> DomainError:
    return DomainError(ErrorKind.INVALID_ARGUMENT, CODE_CHECK_FAILED)


def code_not_found() -> DomainError:
    return DomainError(ErrorKind.NOT_FOUND, CODE_NOT_FOUND)


def code_already_used() -> DomainError:
    return DomainError(ErrorKind.FAILED_PRECONDITION, CODE_ALREADY_USED)


def too_many_attempts(retry_after: int) -> DomainError:
    return DomainError(
        ErrorKind.RESOURCE_EXHAUSTED,
        CODE_TOO_MANY_ATTEMPTS,
        params={"retry_after": str(retry_after)},
    )


def plan_not_found(plan_id: str) -> DomainError:
    return DomainError(ErrorKind.NOT_FOUND, PLAN_NOT_FOUND, params={"plan_id": plan_id})


def plan_option_not_found(devices: int, term_months: int) -> DomainError:
    return DomainError(
        ErrorKind.INVALID_ARGUMENT,
        PLAN_OPTION_NOT_FOUND,
        params={"devices": str(devices), "term_months": str(term_months)},
    )


def codes_count_invalid(most: int) -> DomainError:
    return DomainError(ErrorKind.INVALID_ARGUMENT, CODES_COUNT_INVALID, params={"max": str(most)})


def account_id_invalid() -> DomainError:
    return DomainError(ErrorKind.INVALID_ARGUMENT, ACCOUNT_ID_INVALID)


def feature_invalid() -> DomainError:
    return DomainError(ErrorKind.INVALID_ARGUMENT, FEATURE_INVALID)


def order_not_found() -> DomainError:
    return DomainError(ErrorKind.NOT_FOUND, ORDER_NOT_FOUND)


def order_key_invalid() -> DomainError:
    return DomainError(ErrorKind.INVALID_ARGUMENT, ORDER_KEY_INVALID)


def order_key_reused() -> DomainError:
    return DomainError(ErrorKind.FAILED_PRECONDITION, ORDER_KEY_REUSED)


def order_email_invalid() -> DomainError:
    return DomainError(ErrorKind.INVALID_ARGUMENT, ORDER_EMAIL_INVALID)


def order_not_sold_in_region(region: str) -> DomainError:
    return DomainError(
        ErrorKind.INVALID_ARGUMENT, ORDER_NOT_SOLD_IN_REGION, params={"region": region}
    )


def payment_unavailable() -> DomainError:
    return DomainError(ErrorKind.UNAVAILABLE, PAYMENT_UNAVAILABLE)


def payment_event_replayed() -> DomainError:
    return DomainError(ErrorKind.ALREADY_EXISTS, PAYMENT_EVENT_REPLAYED)


def payment_mismatch() -> DomainError:
    return DomainError(ErrorKind.INVALID_ARGUMENT, PAYMENT_MISMATCH)


def payment_not_recorded_yet() -> DomainError:
    """A notification that overtook the recording of its payment: the provider retries."""
    return DomainError(ErrorKind.UNAVAILABLE, PAYMENT_NOT_RECORDED)


def subscription_not_found() -> DomainError:
    return DomainError(ErrorKind.NOT_FOUND, SUBSCRIPTION_NOT_FOUND)


def subscription_not_active() -> DomainError:
    return DomainError(ErrorKind.FAILED_PRECONDITION, SUBSCRIPTION_NOT_ACTIVE)


def seats_limit_reached(limit: int) -> DomainError:
    return DomainError(
        ErrorKind.FAILED_PRECONDITION, SEATS_LIMIT_REACHED, params={"limit": str(limit)}
    )


def device_id_invalid() -> DomainError:
    return DomainError(ErrorKind.INVALID_ARGUMENT, DEVICE_ID_INVALID)


def plan_invalid(reason: str) -> DomainError:
    return DomainError(ErrorKind.INVALID_ARGUMENT, PLAN_INVALID, params={"reason": reason})

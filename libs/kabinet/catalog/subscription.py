"""Messages of the subscription service's codes: plans, activation codes, entitlements."""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    "code.malformed": (
        "This is not an activation code. A code has 20 letters and digits, like "
        "ABCDE-FGHJK-MNPQR-STUVW.",
        "Это не код активации. Код состоит из 20 букв и цифр, например ABCDE-FGHJK-MNPQR-STUVW.",
    ),
    "code.check_failed": (
        "This code has a typo. Check each character and try again.",
        "В коде опечатка. Проверьте каждый символ и повторите попытку.",
    ),
    "code.not_found": (
        "There is no such activation code. Check it and try again.",
        "Такого кода активации нет. Проверьте его и повторите попытку.",
    ),
    "code.already_used": (
        "This activation code has already been used.",
        "Этот код активации уже использован.",
    ),
    "code.too_many_attempts": (
        "Too many wrong codes. Wait a while and try again.",
        "Слишком много неверных кодов. Подождите и повторите попытку.",
    ),
    "plan.not_found": ("There is no such plan.", "Такого тарифа нет."),
    "plan.option_not_found": (
        "The plan is not sold for this number of devices and term.",
        "Тариф не продаётся на такое число устройств и срок.",
    ),
    "codes.count_invalid": (
        "Ask for between 1 and {max} codes at a time.",
        "За один раз можно запросить от 1 до {max} кодов.",
    ),
    "account.id_invalid": (
        "The account id is not valid.",
        "Неверный идентификатор учётной записи.",
    ),
    "feature.invalid": (
        "The feature name is not valid.",
        "Неверное название функции.",
    ),
    "order.not_found": ("There is no such order.", "Такого заказа нет."),
    "order.idempotency_key_invalid": (
        "The order needs an idempotency key of 8 to 128 letters, digits, dashes or underscores.",
        "Для заказа нужен ключ идемпотентности: от 8 до 128 букв, цифр, дефисов или подчёркиваний.",
    ),
    "order.idempotency_key_reused": (
        "This idempotency key was already used for a different order. Use a new key.",
        "Этот ключ идемпотентности уже использован для другого заказа. Возьмите новый ключ.",
    ),
    "order.email_invalid": (
        "Enter the buyer's email address.",
        "Укажите адрес электронной почты покупателя.",
    ),
    "order.not_sold_in_region": (
        "This option is not sold in the region {region}.",
        "Этот вариант не продаётся в регионе {region}.",
    ),
    "payment.unavailable": (
        "The payment service is not answering. Try again shortly.",
        "Платёжный сервис не отвечает. Повторите попытку чуть позже.",
    ),
    "payment.event_replayed": (
        "This payment notification was already received.",
        "Это уведомление о платеже уже получено.",
    ),
    "payment.mismatch": (
        "The payment notification does not match the order.",
        "Уведомление о платеже не соответствует заказу.",
    ),
    "payment.not_recorded_yet": (
        "The payment is not recorded with its order yet. Send the notification again shortly.",
        "Платёж ещё не записан в заказ. Повторите уведомление чуть позже.",
    ),
    "subscription.not_found": ("There is no such subscription.", "Такой подписки нет."),
    "subscription.not_active": (
        "This subscription is not active.",
        "Эта подписка не действует.",
    ),
    "seats.limit_reached": (
        "The subscription already protects {limit} devices, its limit. Remove a device first.",
        "Подписка уже защищает {limit} устр., это её предел. Сначала отключите устройство.",
    ),
    "device.id_invalid": ("The device id is not valid.", "Неверный идентификатор устройства."),
    "plan.invalid": ("The plan is not valid: {reason}", "Тариф задан неверно: {reason}"),
    "webhook.signature_invalid": (
        "The webhook signature is missing, wrong or too old.",
        "Подпись уведомления отсутствует, неверна или устарела.",
    ),
    "webhook.payload_invalid": (
        "The webhook body is not a payment notification.",
        "Тело уведомления не является уведомлением о платеже.",
    ),
    "order.idempotency_key_missing": (
        "Send an Idempotency-Key header with the order.",
        "Передайте заголовок Idempotency-Key вместе с заказом.",
    ),
}

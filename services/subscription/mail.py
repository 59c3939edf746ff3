"""The mail the subscription service sends, in English and Russian (``$name`` placeholders).

``receipt``: a purchase on the account (order, plan, devices, months, amount, code, ends);
``renewal_receipt``: a renewal paid (order, plan, amount, ends); ``reminder``: the end is near
(days, ends); ``refund_receipt``: money returned (orders, amount, refunds). The activation code
is in the body only: bodies are dropped once sent.
"""

from __future__ import annotations

from kabinet.mail.templates import MailTemplate, TemplateSet


def subscription_templates() -> TemplateSet:
    """Every template of the subscription service."""
    return TemplateSet(
        [
            MailTemplate(
                name="receipt",
                subject={
                    "en": "Your Kabinet purchase: order $order",
                    "ru": "Ваша покупка в Kabinet: заказ $order",
                },
                text={
                    "en": (
                        "Thank you for your purchase.\n\n"
                        "Order: $order\nPlan: $plan, $devices devices, $months months\n"
                        "Paid: $amount\nValid until: $ends\n"
                        "Activation code: $code\n\n"
                        "The subscription is on your Kabinet account; keep the code as proof of"
                        " your licence."
                    ),
                    "ru": (
                        "Спасибо за покупку!\n\n"
                        "Заказ: $order\nТариф: $plan, устройств: $devices, месяцев: $months\n"
                        "Оплачено: $amount\nДействует до: $ends\n"
                        "Код активации: $code\n\n"
                        "Подписка добавлена в вашу учётную запись Kabinet; сохраните код как"
                        " подтверждение лицензии."
                    ),
                },
            ),
            MailTemplate(
                name="renewal_receipt",
                subject={
                    "en": "Your Kabinet subscription is renewed: order $order",
                    "ru": "Подписка Kabinet продлена: заказ $order",
                },
                text={
                    "en": (
                        "Your subscription $plan is renewed.\n\n"
                        "Order: $order\nPaid: $amount\nValid until: $ends"
                    ),
                    "ru": (
                        "Подписка $plan продлена.\n\n"
                        "Заказ: $order\nОплачено: $amount\nДействует до: $ends"
                    ),
                },
            ),
            MailTemplate(
                name="refund_receipt",
                subject={
                    "en": "Your Kabinet refund: $amount",
                    "ru": "Возврат средств Kabinet: $amount",
                },
                text={
                    "en": (
                        "Your payment is refunded and the subscription is stopped.\n\n"
                        "Order: $orders\nRefunded: $amount\nRefund: $refunds\n\n"
                        "The money reaches your card in the time your bank takes."
                    ),
                    "ru": (
                        "Оплата возвращена, подписка остановлена.\n\n"
                        "Заказ: $orders\nВозвращено: $amount\nВозврат: $refunds\n\n"
                        "Деньги поступят на карту в срок, который установил ваш банк."
                    ),
                },
            ),
            MailTemplate(
                name="reminder",
                subject={
                    "en": "Your Kabinet subscription ends in $days days",
                    "ru": "Подписка Kabinet заканчивается через $days дн.",
                },
                text={
                    "en": (
                        "Your subscription ends on $ends ($days days from now).\n"
                        "Renew it on your Kabinet account to stay protected."
                    ),
                    "ru": (
                        "Ваша подписка заканчивается $ends (через $days дн.).\n"
                        "Продлите её в учётной записи Kabinet, чтобы защита не прервалась."
                    ),
                },
            ),
        ]
    )

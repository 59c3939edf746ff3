-- Refunds through the payment provider: one per paid order, the order then 'refunded'.
ALTER TABLE orders DROP CONSTRAINT orders_status_check;
ALTER TABLE orders ADD CONSTRAINT orders_status_check
    CHECK (status IN ('pending', 'paid', 'declined', 'completed', 'refunded'));

CREATE TABLE refunds (
    order_id uuid PRIMARY KEY REFERENCES orders (id),
    -- The provider's refund id.
    refund_id text NOT NULL UNIQUE,
    payment_id text NOT NULL,
    amount_minor bigint NOT NULL CHECK (amount_minor > 0),
    currency text NOT NULL,
    created_at timestamptz NOT NULL,
    -- When the provider's payment.refunded notification arrived (NULL: not yet).
    confirmed_at timestamptz
);

-- Orders and payments, subscription status and automatic renewal, device seats and the
-- scheduler's records (reminders sent).

CREATE TABLE orders (
    id uuid PRIMARY KEY,
    -- The caller's key: the same key and order answer the same order.
    idempotency_key text NOT NULL UNIQUE,
    -- SHA-256 of what was asked with the key, to refuse the key reused for another order.
    request_hash bytea NOT NULL,
    kind text NOT NULL CHECK (kind IN ('purchase', 'renewal', 'auto_renewal')),
    plan_id text NOT NULL REFERENCES plans (id),
    devices integer NOT NULL CHECK (devices > 0),
    term_months integer NOT NULL CHECK (term_months > 0),
    buyer_email text NOT NULL,
    region text NOT NULL,
    language text NOT NULL,
    currency text NOT NULL,
    amount_minor bigint NOT NULL CHECK (amount_minor > 0),
    status text NOT NULL CHECK (status IN ('pending', 'paid', 'declined', 'completed')),
    -- Known at once for a signed-in buyer or a renewal; else reported by identity.
    account_id uuid,
    -- The subscription a renewal extends, or the one a purchase created.
    subscription_id uuid,
    payment_id text UNIQUE,
    payment_url text,
    payment_method text,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE INDEX orders_account ON orders (account_id);

-- Provider notifications already applied: a replayed one is refused.
CREATE TABLE payment_events (
    provider text NOT NULL,
    event_id text NOT NULL,
    order_id uuid NOT NULL,
    received_at timestamptz NOT NULL,
    PRIMARY KEY (provider, event_id)
);

ALTER TABLE subscriptions
    ADD COLUMN status text NOT NULL DEFAULT 'active'
        CHECK (status IN ('active', 'expired', 'cancelled', 'refunded')),
    ADD COLUMN auto_renew boolean NOT NULL DEFAULT false,
    -- The payment provider's reusable token for automatic renewals (never a card number).
    ADD COLUMN payment_method text,
    ADD COLUMN order_id uuid;

CREATE INDEX subscriptions_ends ON subscriptions (ends_at) WHERE status = 'active';

-- Devices protected by a subscription: one seat each, at most `devices` per subscription.
CREATE TABLE device_seats (
    subscription_id uuid NOT NULL REFERENCES subscriptions (id),
    account_id uuid NOT NULL,
    device_id text NOT NULL,
    name text NOT NULL,
    protected_at timestamptz NOT NULL,
    PRIMARY KEY (account_id, device_id)
);

CREATE INDEX device_seats_subscription ON device_seats (subscription_id);

-- Each reminder goes out once: (subscription, the end it announces, days before it).
CREATE TABLE reminders_sent (
    subscription_id uuid NOT NULL REFERENCES subscriptions (id),
    ends_at timestamptz NOT NULL,
    days_before integer NOT NULL,
    sent_at timestamptz NOT NULL,
    PRIMARY KEY (subscription_id, ends_at, days_before)
);

-- Automatic renewal attempts: one per subscription and end.
CREATE TABLE renewal_attempts (
    subscription_id uuid NOT NULL REFERENCES subscriptions (id),
    ends_at timestamptz NOT NULL,
    order_id uuid NOT NULL,
    attempted_at timestamptz NOT NULL,
    PRIMARY KEY (subscription_id, ends_at)
);

-- The seed last applied: a start-up with the same seed leaves the catalog as operators left it
-- (admin RPCs); a changed seed is applied over it.
CREATE TABLE catalog_seed (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    digest bytea NOT NULL,
    applied_at timestamptz NOT NULL
);

-- Plans (loaded from the seed file), issued activation codes, subscriptions, the entitlements
-- read model and redemption throttling. Codes are stored only as SHA-256 digests.

CREATE TABLE plans (
    id text PRIMARY KEY,
    tier text NOT NULL CHECK (tier IN ('standard', 'plus', 'premium')),
    -- 1 standard, 2 plus, 3 premium: "the cheapest tier" is the lowest rank.
    rank smallint NOT NULL CHECK (rank BETWEEN 1 AND 3),
    name text NOT NULL,
    name_ru text NOT NULL,
    features text[] NOT NULL,
    on_sale boolean NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE TABLE plan_options (
    plan_id text NOT NULL REFERENCES plans (id),
    devices integer NOT NULL CHECK (devices > 0),
    term_months integer NOT NULL CHECK (term_months > 0),
    PRIMARY KEY (plan_id, devices, term_months)
);

CREATE TABLE plan_prices (
    plan_id text NOT NULL,
    devices integer NOT NULL,
    term_months integer NOT NULL,
    region text NOT NULL CHECK (region ~ '^[A-Z]{2}$'),
    currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    amount_minor bigint NOT NULL CHECK (amount_minor > 0),
    PRIMARY KEY (plan_id, devices, term_months, region),
    FOREIGN KEY (plan_id, devices, term_months)
        REFERENCES plan_options (plan_id, devices, term_months) ON DELETE CASCADE
);

CREATE TABLE subscriptions (
    id uuid PRIMARY KEY,
    account_id uuid NOT NULL,
    plan_id text NOT NULL REFERENCES plans (id),
    tier text NOT NULL CHECK (tier IN ('standard', 'plus', 'premium')),
    devices integer NOT NULL CHECK (devices > 0),
    -- The plan's features when it was activated or last renewed: a seed edit does not change
    -- what was sold.
    features text[] NOT NULL,
    starts_at timestamptz NOT NULL,
    ends_at timestamptz NOT NULL CHECK (ends_at > starts_at),
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE INDEX subscriptions_account ON subscriptions (account_id, plan_id, devices, ends_at);

CREATE TABLE activation_codes (
    -- SHA-256 of the normalised code (20 characters, upper case, no dashes).
    code_hash bytea PRIMARY KEY CHECK (length(code_hash) = 32),
    -- The first five characters, for support to find a code a customer reads out.
    prefix text NOT NULL CHECK (length(prefix) = 5),
    plan_id text NOT NULL REFERENCES plans (id),
    devices integer NOT NULL CHECK (devices > 0),
    term_months integer NOT NULL CHECK (term_months > 0),
    batch_id uuid NOT NULL,
    created_at timestamptz NOT NULL,
    redeemed_by uuid,
    redeemed_at timestamptz,
    subscription_id uuid REFERENCES subscriptions (id),
    renewal boolean NOT NULL DEFAULT false,
    CHECK ((redeemed_by IS NULL) = (redeemed_at IS NULL)),
    CHECK ((redeemed_by IS NULL) = (subscription_id IS NULL))
);

CREATE INDEX activation_codes_prefix ON activation_codes (prefix);
CREATE INDEX activation_codes_batch ON activation_codes (batch_id);

-- The read model CheckEntitlement and ListEntitlements answer from: rewritten for an account in
-- the transaction of each change to its subscriptions.
CREATE TABLE entitlements (
    account_id uuid NOT NULL,
    feature text NOT NULL,
    subscription_id uuid NOT NULL REFERENCES subscriptions (id),
    tier text NOT NULL,
    valid_until timestamptz NOT NULL,
    PRIMARY KEY (account_id, feature)
);

-- Failed redemptions per account; the row is also what redemptions of one account lock.
CREATE TABLE redeem_throttle (
    account_id uuid PRIMARY KEY,
    failures integer NOT NULL,
    window_started_at timestamptz NOT NULL
);

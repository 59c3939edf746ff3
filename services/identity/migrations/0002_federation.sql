-- Social sign-in: flows in progress and the identities linked to accounts.

-- A started flow. Only digests of its secrets are kept: the state (sent to the provider and
-- back) and the binding (an HttpOnly cookie of the browser that started it). Spent once.
CREATE TABLE social_flows (
    state_hash bytea PRIMARY KEY CHECK (length(state_hash) = 32),
    binding_hash bytea NOT NULL CHECK (length(binding_hash) = 32),
    provider text NOT NULL CHECK (provider IN ('google', 'apple', 'facebook', 'yandex', 'vk')),
    purpose text NOT NULL CHECK (purpose IN ('sign_in', 'link')),
    -- The signed-in account a link flow was started for.
    account_id uuid REFERENCES accounts (id) ON DELETE CASCADE,
    return_to text NOT NULL CHECK (length(return_to) <= 512),
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at timestamptz,
    CHECK ((purpose = 'link') = (account_id IS NOT NULL))
);

CREATE INDEX social_flows_expiry ON social_flows (expires_at);

-- Identities are keyed by (provider, subject), never by email; one per provider per account.
CREATE TABLE social_identities (
    provider text NOT NULL CHECK (provider IN ('google', 'apple', 'facebook', 'yandex', 'vk')),
    subject text NOT NULL CHECK (length(subject) BETWEEN 1 AND 255),
    account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    -- The address the provider gave when it was linked (shown in the account's list).
    email text NOT NULL DEFAULT '' CHECK (length(email) <= 254),
    linked_at timestamptz NOT NULL,
    last_used_at timestamptz,
    PRIMARY KEY (provider, subject)
);

CREATE UNIQUE INDEX social_identities_account_provider ON social_identities (account_id, provider);

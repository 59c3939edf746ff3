-- Accounts, emailed links, sessions with their refresh tokens, sign-in throttling, signing keys.
-- Tokens of any kind are stored only as SHA-256 digests; passwords only as argon2id hashes.

CREATE TABLE accounts (
    id uuid PRIMARY KEY,
    -- As written to (local part as typed, domain IDNA-encoded and lower-cased) ...
    email text NOT NULL CHECK (length(email) <= 254),
    -- ... and as compared: one account per key, also under concurrent registrations.
    email_key text NOT NULL,
    status text NOT NULL CHECK (status IN ('pending_activation', 'active', 'disabled')),
    -- NULL: an account made for a purchase whose owner has not chosen a password yet.
    password_hash text,
    name text NOT NULL DEFAULT '' CHECK (length(name) <= 100),
    language text NOT NULL CHECK (language IN ('en', 'ru')),
    country text NOT NULL DEFAULT '' CHECK (country ~ '^([A-Z]{2})?$'),
    roles text[] NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL,
    activated_at timestamptz,
    password_changed_at timestamptz
);

CREATE UNIQUE INDEX accounts_email_key ON accounts (email_key);

-- Single-use links: activation, "create your password", password reset, email change.
CREATE TABLE links (
    token_hash bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    purpose text NOT NULL
        CHECK (purpose IN ('activation', 'create_password', 'password_reset', 'email_change')),
    -- The address an email change link moves the account to.
    new_email text,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    -- Spent, or retired by a newer link of the same purpose.
    used_at timestamptz,
    CHECK ((purpose = 'email_change') = (new_email IS NOT NULL))
);

CREATE INDEX links_account_purpose ON links (account_id, purpose, created_at);
CREATE INDEX links_expiry ON links (expires_at);

-- Mails without a link (e.g. "someone registered with your address"), counted to rate-limit them.
CREATE TABLE notices (
    account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    kind text NOT NULL,
    sent_at timestamptz NOT NULL
);

CREATE INDEX notices_account_kind ON notices (account_id, kind, sent_at);

CREATE TABLE sessions (
    id uuid PRIMARY KEY,
    account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    kind text NOT NULL CHECK (kind IN ('browser', 'app', 'unknown')),
    ip text NOT NULL DEFAULT '',
    user_agent text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    -- Absolute: refreshing never moves it.
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz,
    revoked_reason text
);

CREATE INDEX sessions_account_live ON sessions (account_id) WHERE revoked_at IS NULL;
CREATE INDEX sessions_expiry ON sessions (expires_at);

-- Each refresh spends one token and adds the next; a spent one presented again revokes the session.
CREATE TABLE refresh_tokens (
    token_hash bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    session_id uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL,
    used_at timestamptz
);

CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

-- Failed sign-ins per existing account (an unknown email creates no row).
CREATE TABLE account_throttle (
    account_id uuid PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    failures integer NOT NULL CHECK (failures >= 0),
    window_started_at timestamptz NOT NULL,
    locked_until timestamptz
);

-- Failed sign-ins per client address (IPv4, or IPv6 /64).
CREATE TABLE client_throttle (
    client_key text PRIMARY KEY,
    failures integer NOT NULL CHECK (failures >= 0),
    window_started_at timestamptz NOT NULL,
    blocked_until timestamptz
);

-- ES256 signing keys shared by every replica. The private JWK is stored as it is: encrypting it
-- at rest belongs in identity.domain.keys.export_private/import_private.
CREATE TABLE signing_keys (
    kid text PRIMARY KEY,
    algorithm text NOT NULL,
    private_jwk jsonb NOT NULL,
    created_at timestamptz NOT NULL,
    active_from timestamptz NOT NULL,
    retire_after timestamptz
);

-- Device authorization grants (RFC 8628) and the account's device registry.

CREATE TABLE device_grants (
    -- Only the SHA-256 of the device code is kept.
    device_code_hash bytea PRIMARY KEY CHECK (length(device_code_hash) = 32),
    -- SHA-256 of the normalised user code (8 characters, no dash); unique among pending ones.
    user_code_hash bytea NOT NULL CHECK (length(user_code_hash) = 32),
    client_id text NOT NULL REFERENCES oauth_clients (client_id) ON DELETE CASCADE,
    scopes text[] NOT NULL DEFAULT '{}',
    device_name text NOT NULL DEFAULT '' CHECK (length(device_name) <= 100),
    platform text NOT NULL DEFAULT '' CHECK (length(platform) <= 32),
    app_version text NOT NULL DEFAULT '' CHECK (length(app_version) <= 32),
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    interval_seconds integer NOT NULL CHECK (interval_seconds > 0),
    last_polled_at timestamptz,
    status text NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'consumed')),
    account_id uuid REFERENCES accounts (id) ON DELETE CASCADE,
    session_id uuid
);

CREATE UNIQUE INDEX device_grants_pending_user_code ON device_grants (user_code_hash)
    WHERE status = 'pending';
CREATE INDEX device_grants_expiry ON device_grants (expires_at);

-- Wrong user codes entered per account, to slow down guessing.
CREATE TABLE user_code_failures (
    account_id uuid PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    failures integer NOT NULL CHECK (failures >= 0),
    window_started_at timestamptz NOT NULL
);

CREATE TABLE devices (
    id uuid PRIMARY KEY,
    account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    -- The session the device's tokens belong to: disconnecting revokes it.
    session_id uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    client_id text NOT NULL,
    name text NOT NULL DEFAULT '',
    platform text NOT NULL DEFAULT '',
    app_version text NOT NULL DEFAULT '',
    connected_at timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    disconnected_at timestamptz
);

CREATE INDEX devices_account ON devices (account_id) WHERE disconnected_at IS NULL;

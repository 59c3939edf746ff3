-- Kabinet as OpenID provider: registered clients, consents, authorization codes, and the client a
-- session was granted to. Secrets and codes are stored only as SHA-256 digests.

CREATE TABLE oauth_clients (
    client_id text PRIMARY KEY CHECK (client_id ~ '^[A-Za-z0-9._-]{3,64}$'),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    -- NULL for a public client (an app or a browser page cannot keep a secret).
    secret_hash bytea CHECK (secret_hash IS NULL OR length(secret_hash) = 32),
    redirect_uris text[] NOT NULL DEFAULT '{}',
    grant_types text[] NOT NULL DEFAULT '{}',
    scopes text[] NOT NULL DEFAULT '{}',
    first_party boolean NOT NULL DEFAULT false,
    post_logout_redirect_uris text[] NOT NULL DEFAULT '{}',
    disabled boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

-- What a person allowed a client to know; asked again only for scopes outside it.
CREATE TABLE oauth_consents (
    account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    client_id text NOT NULL REFERENCES oauth_clients (client_id) ON DELETE CASCADE,
    scopes text[] NOT NULL,
    granted_at timestamptz NOT NULL,
    PRIMARY KEY (account_id, client_id)
);

CREATE TABLE oauth_codes (
    code_hash bytea PRIMARY KEY CHECK (length(code_hash) = 32),
    client_id text NOT NULL REFERENCES oauth_clients (client_id) ON DELETE CASCADE,
    account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    redirect_uri text NOT NULL,
    scopes text[] NOT NULL,
    nonce text,
    code_challenge text,
    auth_time timestamptz NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at timestamptz,
    -- The session its exchange opened: revoked when the code is presented again.
    session_id uuid
);

CREATE INDEX oauth_codes_expiry ON oauth_codes (expires_at);

-- A session opened by a grant to a client carries the client and the scopes granted; its refresh
-- tokens work only for that client, and a portal session (NULL) only for the portal.
ALTER TABLE sessions ADD COLUMN client_id text;
ALTER TABLE sessions ADD COLUMN scopes text[] NOT NULL DEFAULT '{}';

-- The installer catalog: applications, releases per channel, their artifacts (one per platform
-- and language), which release is the latest of each channel, download records, and the
-- entitlements read model kept from subscription's events.

CREATE TABLE applications (
    id          text PRIMARY KEY CHECK (id ~ '^[a-z][a-z0-9_]{0,63}$'),
    name        text NOT NULL,
    name_ru     text NOT NULL,
    -- The entitlement (subscription feature) it needs and the lowest tier it comes with.
    feature     text NOT NULL,
    min_tier    text NOT NULL CHECK (min_tier IN ('standard', 'plus', 'premium')),
    position    integer NOT NULL DEFAULT 0
);

CREATE TABLE releases (
    id              uuid PRIMARY KEY,
    application_id  text NOT NULL REFERENCES applications (id),
    version         text NOT NULL CHECK (version ~ '^[0-9A-Za-z][0-9A-Za-z.+-]{0,63}$'),
    channel         text NOT NULL CHECK (channel IN ('stable', 'beta')),
    status          text NOT NULL CHECK (status IN ('draft', 'published', 'withdrawn')),
    created_at      timestamptz NOT NULL,
    published_at    timestamptz,
    withdrawn_at    timestamptz,
    UNIQUE (application_id, channel, version)
);

CREATE TABLE artifacts (
    id            uuid PRIMARY KEY,
    release_id    uuid NOT NULL REFERENCES releases (id),
    platform      text NOT NULL CHECK (platform IN ('windows', 'macos', 'linux', 'android', 'ios')),
    language      text NOT NULL CHECK (language IN ('multi', 'en', 'ru')),
    file_name     text NOT NULL,
    -- A file in the object store (key, size, checksum) or a store listing, never both.
    object_key    text,
    size          bigint NOT NULL DEFAULT 0 CHECK (size >= 0),
    sha256        text NOT NULL DEFAULT '' CHECK (sha256 = '' OR sha256 ~ '^[0-9a-f]{64}$'),
    content_type  text NOT NULL DEFAULT 'application/octet-stream',
    store_url     text,
    created_at    timestamptz NOT NULL,
    UNIQUE (release_id, platform, language),
    CHECK ((object_key IS NULL) <> (store_url IS NULL))
);

CREATE TABLE latest_releases (
    application_id  text NOT NULL REFERENCES applications (id),
    channel         text NOT NULL,
    release_id      uuid NOT NULL REFERENCES releases (id),
    PRIMARY KEY (application_id, channel)
);

CREATE TABLE downloads (
    id           uuid PRIMARY KEY,
    account_id   uuid NOT NULL,
    artifact_id  uuid NOT NULL REFERENCES artifacts (id),
    range_start  bigint NOT NULL DEFAULT 0,
    started_at   timestamptz NOT NULL
);
CREATE INDEX downloads_account ON downloads (account_id, started_at DESC);

-- Send-to-device mails, counted per account to keep the portal from becoming a mail cannon.
CREATE TABLE device_mails (
    account_id  uuid NOT NULL,
    sent_at     timestamptz NOT NULL
);
CREATE INDEX device_mails_account ON device_mails (account_id, sent_at);

-- What subscription last said an account's live subscriptions include (from
-- subscription.entitlements.changed); as_of orders the snapshots, so an older event that arrives
-- late changes nothing.
CREATE TABLE entitlement_snapshots (
    account_id    uuid PRIMARY KEY,
    as_of         timestamptz NOT NULL,
    entitlements  jsonb NOT NULL
);

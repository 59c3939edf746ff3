-- Event mechanics shared by every service: the transactional outbox, the consumers' inbox and the
-- parked (dead-lettered) events. Applied inside the service's schema: names are unqualified.

CREATE TABLE outbox (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- Ties rows written in the same instant (and the same transaction) to their insert order.
    seq bigint GENERATED ALWAYS AS IDENTITY,
    subject text NOT NULL,
    event_type text NOT NULL,
    payload bytea NOT NULL,
    headers jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    published_at timestamptz
);

-- The relay reads only what is still to be sent, oldest first.
CREATE INDEX outbox_unpublished ON outbox (created_at, seq) WHERE published_at IS NULL;
-- Purging sent rows after their retention.
CREATE INDEX outbox_published ON outbox (published_at) WHERE published_at IS NOT NULL;

-- Wakes the relay LISTENing on "<schema>_outbox" when the inserting transaction commits
-- (PostgreSQL folds identical notifications of one transaction into one).
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(TG_TABLE_SCHEMA || '_outbox', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();

-- Events a consumer has handled, written in the same transaction as the handler's effect.
CREATE TABLE inbox (
    consumer text NOT NULL,
    event_id uuid NOT NULL,
    handled_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

-- Events whose handler kept failing; kept for inspection and replay.
CREATE TABLE parked_events (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    consumer text NOT NULL,
    stream text NOT NULL,
    subject text NOT NULL,
    event_id uuid NOT NULL,
    event_type text NOT NULL,
    payload bytea NOT NULL,
    headers jsonb NOT NULL DEFAULT '{}'::jsonb,
    deliveries integer NOT NULL,
    error text NOT NULL,
    parked_at timestamptz NOT NULL DEFAULT now(),
    replay_requested_at timestamptz,
    replayed_at timestamptz,
    UNIQUE (consumer, event_id)
);

CREATE INDEX parked_events_replay ON parked_events (consumer, replay_requested_at)
    WHERE replay_requested_at IS NOT NULL AND replayed_at IS NULL;

-- Wakes the consumers LISTENing on "<schema>_replay"; the payload names the consumer.
CREATE FUNCTION parked_events_replay_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(TG_TABLE_SCHEMA || '_replay', NEW.consumer);
    RETURN NULL;
END
$$;

CREATE TRIGGER parked_events_replay_notify
    AFTER UPDATE OF replay_requested_at ON parked_events
    FOR EACH ROW
    WHEN (NEW.replay_requested_at IS NOT NULL AND NEW.replayed_at IS NULL)
    EXECUTE FUNCTION parked_events_replay_notify();

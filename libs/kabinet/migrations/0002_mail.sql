-- Outgoing mail queue (kabinet.mail). A row is written, already rendered, in the same transaction
-- as the state change that causes it, and the sender drains the queue over SMTP.
--
-- Bodies may carry single-use links, so they live here only until the message is sent or given up:
-- then both body columns are set to NULL (the CHECK below refuses a finished row that keeps them).
-- Subjects never carry secrets and stay, with the address, as the record of what was sent.
CREATE TABLE mail_outbox (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    to_address text NOT NULL,
    template text NOT NULL,
    language text NOT NULL,
    subject text NOT NULL,
    body_text text,
    body_html text,
    created_at timestamptz NOT NULL DEFAULT now(),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    sent_at timestamptz,
    failed_at timestamptz,
    last_error text,
    CONSTRAINT mail_outbox_sent_or_failed CHECK (sent_at IS NULL OR failed_at IS NULL),
    CONSTRAINT mail_outbox_no_body_when_done CHECK (
        (sent_at IS NULL AND failed_at IS NULL) OR (body_text IS NULL AND body_html IS NULL)
    )
);

-- The sender asks only for rows still waiting, by due time.
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at)
    WHERE sent_at IS NULL AND failed_at IS NULL;

-- Wake the senders listening on "<schema>_mail" when new mail commits (NOTIFY is delivered at
-- commit, and not at all on rollback).
CREATE FUNCTION mail_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(TG_TABLE_SCHEMA || '_mail', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER mail_outbox_notify AFTER INSERT ON mail_outbox
    FOR EACH STATEMENT EXECUTE FUNCTION mail_outbox_notify();

-- A reminder's mail is resolved after the scheduler's pass (the owner's address comes from
-- identity): mailed_at and mail_outcome close it, NULL while it waits.
ALTER TABLE reminders_sent
    ADD COLUMN mailed_at timestamptz,
    ADD COLUMN mail_outcome text CHECK (mail_outcome IN ('sent', 'no_account', 'stale')),
    ADD CONSTRAINT reminders_sent_mail_closed CHECK ((mailed_at IS NULL) = (mail_outcome IS NULL));

-- Before this, only bought subscriptions got their reminder mailed (in the pass); the others'
-- reminders are past and are not sent late.
UPDATE reminders_sent r SET mailed_at = r.sent_at,
    mail_outcome = CASE WHEN s.order_id IS NULL THEN 'stale' ELSE 'sent' END
FROM subscriptions s WHERE s.id = r.subscription_id;

CREATE INDEX reminders_unmailed ON reminders_sent (sent_at) WHERE mailed_at IS NULL;

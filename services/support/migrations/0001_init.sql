-- Tickets, their threads, attachments (bytes in the object store, metadata here) and history.
-- Ids are random (uuid4), made by the service.

CREATE TABLE tickets (
    id uuid PRIMARY KEY,
    owner_id uuid NOT NULL,
    -- Where notices go, read from identity when the ticket was opened; erased with the account.
    owner_email text NOT NULL,
    owner_language text NOT NULL,
    topic text NOT NULL
        CHECK (topic IN ('installation', 'activation', 'account', 'payment', 'technical', 'other')),
    application text NOT NULL,
    device text NOT NULL,
    subject text NOT NULL CHECK (subject !~ '[\r\n]'),
    status text NOT NULL
        CHECK (status IN ('new', 'in_progress', 'waiting_for_customer', 'resolved', 'closed')),
    priority text NOT NULL CHECK (priority IN ('normal', 'high')),
    -- 1 high, 2 normal: the queue's first key.
    priority_rank smallint NOT NULL CHECK (priority_rank IN (1, 2)),
    sla_due_at timestamptz NOT NULL,
    priority_as_of timestamptz NOT NULL,
    assignee_id uuid,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    resolved_at timestamptz,
    rating smallint CHECK (rating BETWEEN 1 AND 5),
    rating_comment text NOT NULL DEFAULT ''
);

CREATE INDEX tickets_owner ON tickets (owner_id, updated_at DESC);
-- The agents' queue: open tickets by priority, then SLA due time.
CREATE INDEX tickets_queue ON tickets (priority_rank, sla_due_at, created_at)
    WHERE status NOT IN ('resolved', 'closed');

CREATE TABLE messages (
    id uuid PRIMARY KEY,
    -- Insertion order: the thread's order when two messages share a timestamp.
    seq bigint GENERATED ALWAYS AS IDENTITY,
    ticket_id uuid NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    -- NULL once the author's account was deleted (agents' replies on others' tickets stay).
    author_id uuid,
    author_role text NOT NULL CHECK (author_role IN ('customer', 'agent')),
    body text NOT NULL,
    internal boolean NOT NULL,
    created_at timestamptz NOT NULL,
    CHECK (NOT internal OR author_role = 'agent')
);

CREATE INDEX messages_ticket ON messages (ticket_id, created_at, seq);
CREATE INDEX messages_author ON messages (author_id) WHERE author_id IS NOT NULL;

CREATE TABLE attachments (
    id uuid PRIMARY KEY,
    ticket_id uuid NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    message_id uuid NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    filename text NOT NULL,
    -- Detected from the bytes.
    content_type text NOT NULL,
    size bigint NOT NULL CHECK (size >= 0),
    sha256 text NOT NULL,
    storage_key text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL
);

CREATE INDEX attachments_message ON attachments (message_id);

CREATE TABLE ticket_history (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ticket_id uuid NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    kind text NOT NULL CHECK (kind IN ('status', 'priority', 'assignment', 'rating')),
    from_value text NOT NULL,
    to_value text NOT NULL,
    actor_id uuid,
    at timestamptz NOT NULL
);

CREATE INDEX ticket_history_ticket ON ticket_history (ticket_id, id);
CREATE INDEX ticket_history_actor ON ticket_history (actor_id) WHERE actor_id IS NOT NULL;

-- ai-service: generated schedules (one row per `ai-schedule-generation` message) and the
-- transactional outbox for the events and notifications they cause (contracts.md › Messages).
CREATE TABLE schedules (
    id            uuid PRIMARY KEY,            -- the schedule_id trip-service chose
    trip_id       uuid NOT NULL,
    requested_by  uuid NOT NULL,
    request       jsonb NOT NULL,
    request_hash  text NOT NULL,               -- of the normalised request: the cache key part
    status        text NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'running', 'done', 'failed')),
    itinerary     jsonb,
    error         text,
    error_code    text,
    attempts      integer NOT NULL DEFAULT 0,  -- deliveries that started generating
    requested_at  timestamptz,
    started_at    timestamptz,
    finished_at   timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'done') = (itinerary IS NOT NULL)),
    CHECK (status <> 'failed' OR error IS NOT NULL)
);
CREATE INDEX schedules_trip_idx ON schedules (trip_id, created_at DESC);

-- Rows written in the transaction of the state change they announce, relayed to the queue port
-- in id order by one relay at a time (an advisory lock), marked sent once the queue took them.
CREATE TABLE outbox (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind       text NOT NULL CHECK (kind IN ('queue', 'topic')),
    entity     text NOT NULL,
    message_id text NOT NULL,
    session_id text,
    body       jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at    timestamptz
);
CREATE INDEX outbox_unsent_idx ON outbox (id) WHERE sent_at IS NULL;
CREATE INDEX outbox_sent_at_idx ON outbox (sent_at) WHERE sent_at IS NOT NULL;

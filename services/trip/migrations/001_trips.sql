-- trip-service: trips, their members, the schedule read model and the transactional outbox.
CREATE TABLE trips (
    id                   uuid PRIMARY KEY,
    owner_id             uuid NOT NULL,
    title                text NOT NULL,
    destination_city     text NOT NULL,
    start_date           date NOT NULL,
    end_date             date NOT NULL,
    travellers           integer NOT NULL CHECK (travellers BETWEEN 1 AND 20),
    budget               text NOT NULL CHECK (budget IN ('low', 'medium', 'high')),
    pace                 text NOT NULL CHECK (pace IN ('relaxed', 'normal', 'packed')),
    preferred_categories text[] NOT NULL DEFAULT '{}',
    must_visit           text[] NOT NULL DEFAULT '{}',
    lodging_lat          double precision CHECK (lodging_lat BETWEEN -90 AND 90),
    lodging_lng          double precision CHECK (lodging_lng BETWEEN -180 AND 180),
    mode                 text NOT NULL CHECK (mode IN ('walk', 'transit', 'car')),
    wishes               text,
    -- Bumped by every update: a PATCH validated against one version must not overwrite another.
    version              integer NOT NULL DEFAULT 1,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    -- The API enforces the same rules with field errors; these keep every other writer honest.
    CONSTRAINT trips_dates_ordered CHECK (end_date >= start_date),
    CONSTRAINT trips_at_most_30_days CHECK (end_date - start_date < 30),
    CONSTRAINT trips_lodging_whole CHECK ((lodging_lat IS NULL) = (lodging_lng IS NULL))
);
CREATE INDEX trips_owner_idx ON trips (owner_id, created_at DESC, id);

CREATE TABLE trip_members (
    trip_id    uuid NOT NULL REFERENCES trips (id) ON DELETE CASCADE,
    user_id    uuid NOT NULL,
    role       text NOT NULL CHECK (role IN ('editor', 'viewer')),
    added_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (trip_id, user_id)
);
-- "Trips shared with me" looks members up by user.
CREATE INDEX trip_members_user_idx ON trip_members (user_id);

CREATE TABLE schedules (
    id           uuid PRIMARY KEY,
    trip_id      uuid NOT NULL REFERENCES trips (id) ON DELETE CASCADE,
    requested_by uuid NOT NULL,
    status       text NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'running', 'done', 'failed')),
    itinerary    jsonb,
    error        text,
    requested_at timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX schedules_trip_idx ON schedules (trip_id, requested_at DESC, id);

-- Messages written in the same transaction as the state change they announce; a relay publishes
-- them in id order and stamps sent_at (at-least-once: the queue drops re-sends by message_id).
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

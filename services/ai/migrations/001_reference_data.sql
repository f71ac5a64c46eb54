-- ai-service reference data (SPEC.md › Dev data initialisation, "AI test data"): preference
-- profiles, itinerary templates, reviews and monthly seasonal patterns, as JSON columns.
CREATE TABLE preference_profiles (
    id                   text PRIMARY KEY,
    name                 text NOT NULL,
    pace                 text NOT NULL CHECK (pace IN ('relaxed', 'normal', 'packed')),
    budget               text NOT NULL CHECK (budget IN ('low', 'medium', 'high')),
    preferred_categories text[] NOT NULL,
    body                 jsonb NOT NULL
);

CREATE TABLE itinerary_templates (
    id        text PRIMARY KEY,
    city      text NOT NULL,
    days      smallint NOT NULL CHECK (days BETWEEN 1 AND 7),
    title     text NOT NULL,
    pace      text NOT NULL CHECK (pace IN ('relaxed', 'normal', 'packed')),
    day_plans jsonb NOT NULL
);
CREATE INDEX itinerary_templates_city_idx ON itinerary_templates (city, days);

CREATE TABLE reviews (
    id            text PRIMARY KEY,
    place_id      text NOT NULL,
    profile_id    text NOT NULL REFERENCES preference_profiles (id),
    stars         smallint NOT NULL CHECK (stars BETWEEN 1 AND 5),
    text          text NOT NULL,
    visited_month smallint NOT NULL CHECK (visited_month BETWEEN 1 AND 12)
);
-- The planner averages stars per place.
CREATE INDEX reviews_place_idx ON reviews (place_id);

CREATE TABLE seasonal_patterns (
    month            smallint PRIMARY KEY CHECK (month BETWEEN 1 AND 12),
    season           text NOT NULL,
    category_weights jsonb NOT NULL,
    body             jsonb NOT NULL
);

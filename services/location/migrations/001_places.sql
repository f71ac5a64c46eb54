-- location-service: places of interest as PostGIS points, with text search, and their cities.
-- Both extensions live in `public` (the pool's search_path is `location_db, public`); naming the
-- schema keeps them out of `location_db` when this migration is the first to create them.
CREATE EXTENSION IF NOT EXISTS postgis WITH SCHEMA public;
CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;

CREATE TABLE places (
    -- A stable slug (e.g. `seoul-gyeongbokgung`): other services keep it in trips and itineraries.
    id                 text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9_-]{0,127}$'),
    name_ko            text NOT NULL CHECK (name_ko <> ''),
    name_en            text NOT NULL CHECK (name_en <> ''),
    -- The set of services.kit.vocabulary.Category (a test keeps the two equal).
    category           text NOT NULL
        CHECK (category IN ('culture', 'shopping', 'food', 'ocean', 'nature', 'leisure')),
    city               text NOT NULL,
    district           text NOT NULL,
    country            text NOT NULL,
    geog               geography(Point, 4326) NOT NULL,
    rating             numeric(2, 1) NOT NULL CHECK (rating BETWEEN 1 AND 5),
    visit_duration_min integer NOT NULL CHECK (visit_duration_min BETWEEN 5 AND 720),
    -- {"mon": [["09:00", "18:00"]], …, "sun": null}: a null or missing day is closed;
    -- a null column means open around the clock (streets, beaches, parks).
    opening_hours      jsonb CHECK (opening_hours IS NULL OR jsonb_typeof(opening_hours) = 'object'),
    price_level        smallint NOT NULL CHECK (price_level BETWEEN 0 AND 4),
    tags               text[] NOT NULL DEFAULT '{}',
    updated_at         timestamptz NOT NULL DEFAULT now()
);

-- Nearby search: ST_DWithin filters and `<->` orders through this index.
CREATE INDEX places_geog_idx ON places USING gist (geog);
-- Text search: trigram similarity and ILIKE '%…%' on either name; tag membership (`&&`).
CREATE INDEX places_name_ko_trgm_idx ON places USING gin (name_ko gin_trgm_ops);
CREATE INDEX places_name_en_trgm_idx ON places USING gin (name_en gin_trgm_ops);
CREATE INDEX places_tags_idx ON places USING gin (tags);
-- City listings (ai-service candidates, search by city), case-insensitive.
CREATE INDEX places_city_idx ON places (lower(city), category);

-- One row per city with the centre of its places; a view, so it never drifts from `places`.
CREATE VIEW cities AS
SELECT city,
       country,
       count(*)::integer AS place_count,
       ST_Y(ST_Centroid(ST_Collect(geog::geometry))) AS lat,
       ST_X(ST_Centroid(ST_Collect(geog::geometry))) AS lng
FROM places
GROUP BY city, country;

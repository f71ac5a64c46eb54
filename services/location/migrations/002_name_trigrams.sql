-- Text search: the trigrams of both names, kept with the row. A name that is similar to the
-- search text (`%`, `<%`) shares at least one trigram with it, so comparing these arrays first
-- (a cheap overlap) spares computing four similarities on every other place of the city.
ALTER TABLE places
    ADD COLUMN name_trigrams text[]
        GENERATED ALWAYS AS (show_trgm(name_ko) || show_trgm(name_en)) STORED;

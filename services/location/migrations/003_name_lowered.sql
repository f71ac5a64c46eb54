-- Text search: the names lowered. In a UTF-8 database `name ILIKE p` is `lower(name) LIKE
-- lower(p)` (PostgreSQL lowers both itself, on every row), so with these stored the search
-- lowers only its pattern, once. An exact stand-in, not an approximation.
ALTER TABLE places
    ADD COLUMN name_ko_lower text GENERATED ALWAYS AS (lower(name_ko)) STORED,
    ADD COLUMN name_en_lower text GENERATED ALWAYS AS (lower(name_en)) STORED;

-- user-service: accounts, roles, preferences; session_version revokes tokens on logout/role change.
CREATE TABLE users (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email           text NOT NULL,
    password_hash   text NOT NULL,
    name            text NOT NULL,
    role            text NOT NULL DEFAULT 'USER' CHECK (role IN ('USER', 'POWER_USER', 'ADMIN')),
    preferences     jsonb NOT NULL DEFAULT '{}'::jsonb,
    session_version integer NOT NULL DEFAULT 0,
    failed_logins   integer NOT NULL DEFAULT 0,
    locked_until    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
-- Emails are unique regardless of case: "A@x.org" and "a@x.org" are one account.
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));
CREATE INDEX users_created_at_idx ON users (created_at, id);

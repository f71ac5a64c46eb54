-- Refresh tokens rotate: each is used once. A login starts a family; presenting a used token again
-- (a stolen copy, or the thief after the owner) revokes the whole family (OAuth 2.0 Security BCP).
CREATE TABLE refresh_tokens (
    jti        text PRIMARY KEY,
    family     uuid NOT NULL,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    revoked_at timestamptz
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family);
CREATE INDEX refresh_tokens_user_expiry_idx ON refresh_tokens (user_id, expires_at);

-- On-demand items get an unguessable public id (the one in their player and HLS URLs; the
-- integer id stays internal) and a visibility: `public`, `unlisted` (plays by its URL,
-- listed nowhere) or `private` (plays only for its owner's panel or through a signed,
-- expiring URL). The key those URLs are signed with is kept here too.
-- Keep in step with ../postgres/0018_media_visibility.sql.

-- 128 random bits as 32 lowercase hex digits (the server mints new ones the same way).
ALTER TABLE media ADD COLUMN public_id TEXT;
UPDATE media SET public_id = lower(hex(randomblob(16)));
CREATE UNIQUE INDEX media_public_id ON media (public_id);

-- Uploads were reachable by their URL before: they stay so (unlisted). DVR exports and
-- live sets are private from now on, as new ones start.
ALTER TABLE media ADD COLUMN visibility TEXT NOT NULL DEFAULT 'unlisted'
    CHECK (visibility IN ('public', 'unlisted', 'private'));
UPDATE media SET visibility = 'private'
    WHERE id IN (SELECT media_id FROM recordings WHERE media_id IS NOT NULL);

-- Server secrets by purpose (`vod_urls`: the HMAC-SHA256 key of signed on-demand URLs),
-- made at first use. Never shown by the API nor logged.
CREATE TABLE server_secrets (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    purpose    TEXT NOT NULL UNIQUE,
    secret     TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

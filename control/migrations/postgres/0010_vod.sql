-- On-demand video: every video in the library is transcoded into an HLS ladder under
-- <data>/vod/<media id>/, one at a time in the background. Keep in step with
-- ../sqlite/0010_vod.sql.

-- NULL for what is not a video; otherwise where its ladder is.
ALTER TABLE media ADD COLUMN vod_status TEXT
    CHECK (vod_status IN ('queued', 'transcoding', 'ready', 'failed'));
ALTER TABLE media ADD COLUMN vod_progress_permille INTEGER NOT NULL DEFAULT 0;
-- Why the transcode failed, in the user's words.
ALTER TABLE media ADD COLUMN vod_error TEXT;
-- The rungs to make (JSON, as a service's ladder stores them), fixed when it was queued.
ALTER TABLE media ADD COLUMN vod_ladder TEXT;
-- Bytes the ladder takes on disk (counted with the file's own).
ALTER TABLE media ADD COLUMN vod_bytes BIGINT NOT NULL DEFAULT 0;

-- Videos already in libraries get their ladder too.
UPDATE media SET vod_status = 'queued' WHERE kind = 'video';
CREATE INDEX media_vod_queue ON media (vod_status, id);

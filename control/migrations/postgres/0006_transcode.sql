-- A video service's transcoding ladder (see api/transcode.rs): NULL when it has none, else
-- JSON {"renditions":[{"name","width","height","video_kbps","audio_kbps"} | {"name":"source"}],
-- "watermark":{"media","position","opacity"}|null}. Keep in step with the other dialect's
-- 0006_transcode.sql.
ALTER TABLE services ADD COLUMN transcode_json TEXT;

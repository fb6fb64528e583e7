-- A video service's DVR settings as JSON {"enabled":bool,"window_minutes":N} (see
-- api/dvr.rs); NULL: never set. Keep in step with ../postgres/0008_dvr.sql.
ALTER TABLE services ADD COLUMN dvr_json TEXT;

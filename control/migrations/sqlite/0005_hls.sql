-- How a video service's stream is packaged as HLS (see api/services.rs, "hls").
-- Keep in step with the other dialect's 0005_hls.sql.
ALTER TABLE services ADD COLUMN hls_segment_secs INTEGER NOT NULL DEFAULT 2;
ALTER TABLE services ADD COLUMN hls_end_after_secs INTEGER NOT NULL DEFAULT 20;
ALTER TABLE services ADD COLUMN hls_format TEXT NOT NULL DEFAULT 'ts';   -- 'ts' or 'fmp4'
ALTER TABLE services ADD COLUMN hls_low_latency INTEGER NOT NULL DEFAULT 0;   -- LL-HLS parts (fmp4 only)

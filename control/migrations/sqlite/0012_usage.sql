-- Monthly data transfer per service (bytes actually sent to listeners and viewers): the
-- limit (0: none), what happens past it ('report' or 'suspend' until the next month), and
-- the month ('YYYY-MM') for which the limit suspended the service, so the next month lifts
-- exactly those suspensions. Keep in step with ../postgres/0012_usage.sql.
ALTER TABLE services ADD COLUMN transfer_bytes BIGINT NOT NULL DEFAULT 0;
ALTER TABLE services ADD COLUMN transfer_action TEXT NOT NULL DEFAULT 'report';
ALTER TABLE services ADD COLUMN transfer_suspended TEXT;

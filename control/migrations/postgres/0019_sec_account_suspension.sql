-- An account's own suspension (issue 21): a suspended reseller or customer can read but
-- change nothing, and a customer of a suspended reseller is suspended with it. The column
-- says who suspended it ('admin' or 'reseller'; NULL: active): a reseller cannot lift an
-- admin's suspension. Keep in step with ../sqlite/0019_sec_account_suspension.sql.
ALTER TABLE users ADD COLUMN suspended_by TEXT CHECK (suspended_by IN ('admin', 'reseller'));

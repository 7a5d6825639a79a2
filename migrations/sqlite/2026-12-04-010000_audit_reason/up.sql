-- sqlite: a refusal's reason (which checks failed), for the audit events that have one. Keep in step
-- with the other backend.
ALTER TABLE audit_events ADD COLUMN reason TEXT;

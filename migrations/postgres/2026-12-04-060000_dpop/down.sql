ALTER TABLE secret_keys DROP COLUMN require_dpop;

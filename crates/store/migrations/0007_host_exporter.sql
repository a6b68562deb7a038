-- deskd schema, version 7: a compute host may name a Prometheus exporter (node_exporter) that
-- the monitoring scrapes with the host's labels. NULL: the host's figures are simulated.
-- (Version 6 belongs to another change; versions are applied by number, so the gap is fine.)

ALTER TABLE hosts ADD COLUMN exporter_url TEXT;

-- deskd schema, version 5: the platform inventory of chapters 6.3–6.10 and its management
-- extensions (DECISIONS D10).

ALTER TABLE clusters ADD COLUMN updated_at BIGINT NOT NULL DEFAULT 0;
UPDATE clusters SET updated_at = created_at;

-- What a desk built from an image gets by default (6.3.1 cpu, memory, network_id).
ALTER TABLE images ADD COLUMN cpu_cores BIGINT NOT NULL DEFAULT 2;
ALTER TABLE images ADD COLUMN memory_gb BIGINT NOT NULL DEFAULT 4;
ALTER TABLE images ADD COLUMN network_id TEXT;
CREATE INDEX images_root ON images(root_image_id);
CREATE INDEX images_os_file ON images(os_file_id);
CREATE INDEX images_network ON images(network_id);

-- Per-cluster summaries and "is it still referenced?" checks read these.
CREATE INDEX hosts_cluster ON hosts(cluster_id);
CREATE INDEX storage_pools_cluster ON storage_pools(cluster_id);
CREATE INDEX networks_cluster ON networks(cluster_id);
CREATE INDEX os_files_pool ON os_files(storage_pool_id);
CREATE INDEX desks_cluster ON desks(cluster_id);

-- The terminal registry (6.6): registered terminals, their last heartbeat and their first
-- desktop-user login (0 = never).
CREATE TABLE terminals (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    category TEXT NOT NULL,
    ip TEXT NOT NULL,
    mac TEXT NOT NULL,
    registered_at BIGINT NOT NULL,
    last_heartbeat_at BIGINT NOT NULL,
    first_login_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX terminals_category ON terminals(category);

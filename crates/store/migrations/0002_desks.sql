-- deskd schema, version 2: what the desk endpoints of chapter 6.1 need.

ALTER TABLE desks ADD COLUMN enable_custom BIGINT NOT NULL DEFAULT 0;
ALTER TABLE desks ADD COLUMN need_refresh_strategy BIGINT NOT NULL DEFAULT 0;
ALTER TABLE desks ADD COLUMN vgpu_type TEXT NOT NULL DEFAULT 'QXL';
ALTER TABLE desks ADD COLUMN desktop_pool_type TEXT NOT NULL DEFAULT 'COMMON';
ALTER TABLE desks ADD COLUMN terminal_ip TEXT NOT NULL DEFAULT '';
CREATE INDEX desks_host ON desks(host_id);
CREATE INDEX desks_network ON desks(network_id);
CREATE INDEX desks_image ON desks(image_id);
CREATE INDEX desks_ip ON desks(ip);
CREATE INDEX ip_allocations_desk ON ip_allocations(desk_id);

-- What each host has promised to the desks placed on it, kept in the same transaction as the
-- desk rows so placement reads three numbers instead of summing every desk.
ALTER TABLE hosts ADD COLUMN alloc_vcpus BIGINT NOT NULL DEFAULT 0;
ALTER TABLE hosts ADD COLUMN alloc_memory_gb BIGINT NOT NULL DEFAULT 0;
ALTER TABLE hosts ADD COLUMN alloc_storage_gb BIGINT NOT NULL DEFAULT 0;

-- Batch-create idempotency (DECISIONS D7): the caller's item id and the desk it produced.
CREATE TABLE desk_requests (
    item_key TEXT PRIMARY KEY,
    desk_id TEXT NOT NULL,
    task_id TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX desk_requests_desk ON desk_requests(desk_id);
CREATE INDEX desk_requests_created ON desk_requests(created_at);

-- Desk rows written before version 2 get their hosts' figures.
UPDATE hosts SET
    alloc_vcpus = (SELECT COALESCE(SUM(d.cpu_cores), 0) FROM desks d WHERE d.host_id = hosts.id),
    alloc_memory_gb = (SELECT COALESCE(SUM(d.memory_gb), 0) FROM desks d WHERE d.host_id = hosts.id),
    alloc_storage_gb = (SELECT COALESCE(SUM(d.system_disk_gb + d.data_disk_gb), 0) FROM desks d WHERE d.host_id = hosts.id);

-- deskd schema, version 1. Portable DDL: the same text runs on SQLite and PostgreSQL.
-- Times are epoch milliseconds (BIGINT); booleans are BIGINT 0/1; JSON is TEXT.

CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE api_accounts (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    disabled BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

CREATE TABLE api_tokens (
    token_hash TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES api_accounts(id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX api_tokens_account ON api_tokens(account_id);

CREATE TABLE clusters (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    state TEXT NOT NULL,
    description TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE hosts (
    id TEXT PRIMARY KEY,
    cluster_id TEXT NOT NULL REFERENCES clusters(id),
    name TEXT NOT NULL UNIQUE,
    ip TEXT NOT NULL,
    cpu_cores BIGINT NOT NULL,
    memory_gb BIGINT NOT NULL,
    storage_gb BIGINT NOT NULL,
    cpu_overcommit DOUBLE PRECISION NOT NULL,
    memory_overcommit DOUBLE PRECISION NOT NULL,
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE storage_pools (
    id TEXT PRIMARY KEY,
    cluster_id TEXT NOT NULL REFERENCES clusters(id),
    name TEXT NOT NULL UNIQUE,
    directory TEXT,
    capacity_gb BIGINT NOT NULL,
    redundancy_strategy TEXT NOT NULL,
    health TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE os_files (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    format TEXT NOT NULL,
    disk_type TEXT NOT NULL,
    os_name TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    virtual_size_bytes BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    state TEXT NOT NULL,
    storage_pool_id TEXT NOT NULL REFERENCES storage_pools(id),
    created_at BIGINT NOT NULL
);

CREATE TABLE images (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    root_image_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    newest BIGINT NOT NULL,
    category TEXT NOT NULL,
    os_name TEXT NOT NULL,
    os_file_id TEXT NOT NULL REFERENCES os_files(id),
    state TEXT NOT NULL,
    system_disk_gb BIGINT NOT NULL,
    description TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE networks (
    id TEXT PRIMARY KEY,
    cluster_id TEXT NOT NULL REFERENCES clusters(id),
    name TEXT NOT NULL UNIQUE,
    cidr TEXT NOT NULL,
    gateway TEXT NOT NULL,
    dns_primary TEXT NOT NULL,
    dns_secondary TEXT NOT NULL,
    vlan BIGINT,
    pool_start TEXT NOT NULL,
    pool_end TEXT NOT NULL,
    state TEXT NOT NULL,
    creator TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE desk_strategies (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    category TEXT NOT NULL,
    desk_type TEXT NOT NULL,
    cpu_cores BIGINT NOT NULL,
    memory_gb BIGINT NOT NULL,
    system_disk_gb BIGINT NOT NULL,
    data_disk_gb BIGINT NOT NULL,
    enable_agreement_agency BIGINT NOT NULL,
    description TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX desk_strategies_created ON desk_strategies(created_at, id);

CREATE TABLE user_groups (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    parent_id TEXT REFERENCES user_groups(id),
    path TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    real_name TEXT NOT NULL,
    user_type TEXT NOT NULL,
    state TEXT NOT NULL,
    group_id TEXT NOT NULL REFERENCES user_groups(id),
    password_hash TEXT NOT NULL,
    email TEXT NOT NULL,
    phone TEXT NOT NULL,
    description TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE desks (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL REFERENCES users(id),
    image_id TEXT NOT NULL REFERENCES images(id),
    strategy_id TEXT NOT NULL REFERENCES desk_strategies(id),
    network_id TEXT NOT NULL REFERENCES networks(id),
    cluster_id TEXT NOT NULL REFERENCES clusters(id),
    host_id TEXT NOT NULL REFERENCES hosts(id),
    ip TEXT NOT NULL,
    mac TEXT NOT NULL,
    desk_type TEXT NOT NULL,
    category TEXT NOT NULL,
    state TEXT NOT NULL,
    cpu_cores BIGINT NOT NULL,
    memory_gb BIGINT NOT NULL,
    system_disk_gb BIGINT NOT NULL,
    data_disk_gb BIGINT NOT NULL,
    remark TEXT NOT NULL,
    error_reason TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX desks_strategy ON desks(strategy_id);
CREATE INDEX desks_user ON desks(user_id);
CREATE INDEX desks_created ON desks(created_at, id);

CREATE TABLE ip_allocations (
    network_id TEXT NOT NULL REFERENCES networks(id),
    ip TEXT NOT NULL,
    desk_id TEXT NOT NULL,
    allocated_at BIGINT NOT NULL,
    PRIMARY KEY (network_id, ip)
);

CREATE TABLE tasks (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    cluster_id TEXT,
    task_result TEXT NOT NULL,
    error_message TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX tasks_status ON tasks(status);

CREATE TABLE task_items (
    task_id TEXT NOT NULL REFERENCES tasks(id),
    seq BIGINT NOT NULL,
    item_id TEXT NOT NULL,
    subject TEXT,
    status TEXT NOT NULL,
    payload TEXT NOT NULL,
    result TEXT NOT NULL,
    biz_data TEXT,
    resource TEXT,
    attempts BIGINT NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_token TEXT,
    lease_until BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (task_id, seq)
);
CREATE INDEX task_items_runnable ON task_items(status, lease_until);

CREATE TABLE events (
    id TEXT PRIMARY KEY,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    task_id TEXT,
    detail TEXT NOT NULL
);
CREATE INDEX events_subject ON events(subject, at);

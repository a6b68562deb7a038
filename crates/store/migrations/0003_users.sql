-- deskd schema, version 3: desktop users and groups of chapter 6.2.

-- What a group's users inherit (0 = never).
ALTER TABLE user_groups ADD COLUMN account_expire_date BIGINT NOT NULL DEFAULT 0;
ALTER TABLE user_groups ADD COLUMN invalid_time BIGINT NOT NULL DEFAULT 0;
CREATE INDEX user_groups_parent ON user_groups(parent_id);

-- NULL expiry or inactivity inherits the group's.
ALTER TABLE users ADD COLUMN account_expire_date BIGINT;
ALTER TABLE users ADD COLUMN invalid_time BIGINT;
ALTER TABLE users ADD COLUMN login_identity_level TEXT NOT NULL DEFAULT 'auto_login';
ALTER TABLE users ADD COLUMN open_account_password BIGINT NOT NULL DEFAULT 1;
ALTER TABLE users ADD COLUMN open_cas BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN open_hardware BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN max_hardware_num BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN open_otp BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN open_sms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN open_radius BIGINT NOT NULL DEFAULT 0;
-- Lockout (6.2.9) and the last desktop-user login (drives invalid_time).
ALTER TABLE users ADD COLUMN pwd_failures BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN locked_until BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN last_login_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX users_group ON users(group_id);
CREATE INDEX users_created ON users(created_at, id);

-- Unified login: which user a terminal is signed in as, and until when (6.2.11).
CREATE TABLE user_terminals (
    terminal_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    login_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX user_terminals_user ON user_terminals(user_id);

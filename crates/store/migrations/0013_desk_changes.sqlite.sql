-- The desk change feed (see store/src/desks/feed.rs): one row per committed change of a desk's
-- list keys, in commit order (SQLite has one writer, and a rolled-back insert gives its number
-- back), read by every process's order index to stay in step with the database.
CREATE TABLE desk_changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, desk_id TEXT NOT NULL);
CREATE TRIGGER desk_changes_in AFTER INSERT ON desks
BEGIN
    INSERT INTO desk_changes (desk_id) VALUES (NEW.id);
END;
CREATE TRIGGER desk_changes_out AFTER DELETE ON desks
BEGIN
    INSERT INTO desk_changes (desk_id) VALUES (OLD.id);
END;
CREATE TRIGGER desk_changes_keys AFTER UPDATE ON desks
WHEN OLD.name IS NOT NEW.name OR
    OLD.state IS NOT NEW.state OR
    OLD.desk_type IS NOT NEW.desk_type OR
    OLD.ip IS NOT NEW.ip OR
    OLD.terminal_ip IS NOT NEW.terminal_ip OR
    OLD.user_name IS NOT NEW.user_name OR
    OLD.image_name IS NOT NEW.image_name OR
    OLD.category IS NOT NEW.category OR
    OLD.cluster_id IS NOT NEW.cluster_id OR
    OLD.strategy_id IS NOT NEW.strategy_id OR
    OLD.network_id IS NOT NEW.network_id OR
    OLD.host_id IS NOT NEW.host_id OR
    OLD.created_at IS NOT NEW.created_at
BEGIN
    INSERT INTO desk_changes (desk_id) VALUES (NEW.id);
END;

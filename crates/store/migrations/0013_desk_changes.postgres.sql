-- The desk change feed (see store/src/desks/feed.rs): one row per change of a desk's list keys.
-- Numbers are taken when the row is written, not when its transaction commits, so a reader may
-- see 11 before 10; the feed's reader waits for such a gap until every transaction that could
-- still fill it has ended (PostgreSQL's snapshot xmin).
CREATE TABLE desk_changes (seq BIGSERIAL PRIMARY KEY, desk_id TEXT NOT NULL);
CREATE FUNCTION desks_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO desk_changes (desk_id) VALUES (OLD.id);
    ELSE
        INSERT INTO desk_changes (desk_id) VALUES (NEW.id);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER desk_changes_in_out AFTER INSERT OR DELETE ON desks
    FOR EACH ROW EXECUTE FUNCTION desks_changed();
CREATE TRIGGER desk_changes_keys AFTER UPDATE ON desks
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name OR
    OLD.state IS DISTINCT FROM NEW.state OR
    OLD.desk_type IS DISTINCT FROM NEW.desk_type OR
    OLD.ip IS DISTINCT FROM NEW.ip OR
    OLD.terminal_ip IS DISTINCT FROM NEW.terminal_ip OR
    OLD.user_name IS DISTINCT FROM NEW.user_name OR
    OLD.image_name IS DISTINCT FROM NEW.image_name OR
    OLD.category IS DISTINCT FROM NEW.category OR
    OLD.cluster_id IS DISTINCT FROM NEW.cluster_id OR
    OLD.strategy_id IS DISTINCT FROM NEW.strategy_id OR
    OLD.network_id IS DISTINCT FROM NEW.network_id OR
    OLD.host_id IS DISTINCT FROM NEW.host_id OR
    OLD.created_at IS DISTINCT FROM NEW.created_at)
    EXECUTE FUNCTION desks_changed();

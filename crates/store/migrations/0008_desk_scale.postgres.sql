-- PostgreSQL: the list's indexes in byte-wise order (COLLATE "C"), which is how deskd sorts text.
-- Each order has two indexes: (column, created_at, id) serves ASC (and, walked backwards, a
-- page read from the end), (column DESC, created_at, id) serves DESC, because the list always
-- breaks ties by creation time and id ascending.
CREATE INDEX desks_sort_state ON desks(state COLLATE "C", created_at, id COLLATE "C");
CREATE INDEX desks_sort_state_desc ON desks(state COLLATE "C" DESC, created_at, id COLLATE "C");
CREATE INDEX desks_sort_desk_type ON desks(desk_type COLLATE "C", created_at, id COLLATE "C");
CREATE INDEX desks_sort_desk_type_desc ON desks(desk_type COLLATE "C" DESC, created_at, id COLLATE "C");
CREATE INDEX desks_sort_category ON desks(category COLLATE "C", created_at, id COLLATE "C");
CREATE INDEX desks_sort_category_desc ON desks(category COLLATE "C" DESC, created_at, id COLLATE "C");
CREATE INDEX desks_sort_cluster_id ON desks(cluster_id COLLATE "C", created_at, id COLLATE "C");
CREATE INDEX desks_sort_cluster_id_desc ON desks(cluster_id COLLATE "C" DESC, created_at, id COLLATE "C");
CREATE INDEX desks_sort_strategy_id ON desks(strategy_id COLLATE "C", created_at, id COLLATE "C");
CREATE INDEX desks_sort_strategy_id_desc ON desks(strategy_id COLLATE "C" DESC, created_at, id COLLATE "C");
CREATE INDEX desks_sort_network_id ON desks(network_id COLLATE "C", created_at, id COLLATE "C");
CREATE INDEX desks_sort_network_id_desc ON desks(network_id COLLATE "C" DESC, created_at, id COLLATE "C");
CREATE INDEX desks_sort_host_id ON desks(host_id COLLATE "C", created_at, id COLLATE "C");
CREATE INDEX desks_sort_host_id_desc ON desks(host_id COLLATE "C" DESC, created_at, id COLLATE "C");
CREATE INDEX desks_sort_ip ON desks(ip COLLATE "C", created_at, id COLLATE "C");
CREATE INDEX desks_sort_ip_desc ON desks(ip COLLATE "C" DESC, created_at, id COLLATE "C");
CREATE INDEX desks_sort_terminal_ip ON desks(terminal_ip COLLATE "C", created_at, id COLLATE "C");
CREATE INDEX desks_sort_terminal_ip_desc ON desks(terminal_ip COLLATE "C" DESC, created_at, id COLLATE "C");
CREATE INDEX desks_sort_user_name ON desks(user_name COLLATE "C", created_at, id COLLATE "C");
CREATE INDEX desks_sort_user_name_desc ON desks(user_name COLLATE "C" DESC, created_at, id COLLATE "C");
CREATE INDEX desks_sort_image_name ON desks(image_name COLLATE "C", created_at, id COLLATE "C");
CREATE INDEX desks_sort_image_name_desc ON desks(image_name COLLATE "C" DESC, created_at, id COLLATE "C");
CREATE INDEX desks_sort_name ON desks(name COLLATE "C");
CREATE INDEX desks_sort_id ON desks(id COLLATE "C");
CREATE INDEX desks_created_c ON desks(created_at, id COLLATE "C");
-- A state filter with each common order.
CREATE INDEX desks_state_name ON desks(state COLLATE "C", name COLLATE "C", created_at, id COLLATE "C");
CREATE INDEX desks_state_name_desc ON desks(state COLLATE "C", name COLLATE "C" DESC, created_at, id COLLATE "C");
CREATE INDEX desks_state_ip ON desks(state COLLATE "C", ip COLLATE "C", created_at, id COLLATE "C");
CREATE INDEX desks_state_ip_desc ON desks(state COLLATE "C", ip COLLATE "C" DESC, created_at, id COLLATE "C");
CREATE INDEX desks_state_user_name ON desks(state COLLATE "C", user_name COLLATE "C", created_at, id COLLATE "C");
CREATE INDEX desks_state_user_name_desc ON desks(state COLLATE "C", user_name COLLATE "C" DESC, created_at, id COLLATE "C");
CREATE INDEX desks_state_image_name ON desks(state COLLATE "C", image_name COLLATE "C", created_at, id COLLATE "C");
CREATE INDEX desks_state_image_name_desc ON desks(state COLLATE "C", image_name COLLATE "C" DESC, created_at, id COLLATE "C");

-- Triggers keep the names and the tallies current in the transaction of every desk write.
CREATE FUNCTION desks_named() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.user_name := COALESCE((SELECT u.name FROM users u WHERE u.id = NEW.user_id), '');
    NEW.image_name := COALESCE((SELECT i.name FROM images i WHERE i.id = NEW.image_id), '');
    RETURN NEW;
END
$$;
CREATE TRIGGER desks_named BEFORE INSERT OR UPDATE OF user_id, image_id ON desks
    FOR EACH ROW EXECUTE FUNCTION desks_named();
CREATE FUNCTION users_renamed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE desks SET user_name = NEW.name WHERE user_id = NEW.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER users_renamed AFTER UPDATE OF name ON users
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name) EXECUTE FUNCTION users_renamed();
CREATE FUNCTION images_renamed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE desks SET image_name = NEW.name WHERE image_id = NEW.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER images_renamed AFTER UPDATE OF name ON images
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name) EXECUTE FUNCTION images_renamed();
CREATE FUNCTION desks_tally() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE desk_tallies SET n = n - 1
        WHERE state = OLD.state AND desk_type = OLD.desk_type AND category = OLD.category
          AND cluster_id = OLD.cluster_id AND strategy_id = OLD.strategy_id
          AND network_id = OLD.network_id;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        INSERT INTO desk_tallies (state, desk_type, category, cluster_id, strategy_id, network_id, n)
        VALUES (NEW.state, NEW.desk_type, NEW.category, NEW.cluster_id, NEW.strategy_id, NEW.network_id, 1)
        ON CONFLICT (state, desk_type, category, cluster_id, strategy_id, network_id)
        DO UPDATE SET n = desk_tallies.n + 1;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER desks_tally_in AFTER INSERT OR DELETE ON desks
    FOR EACH ROW EXECUTE FUNCTION desks_tally();
CREATE TRIGGER desks_tally_move AFTER UPDATE OF state, desk_type, category, cluster_id, strategy_id, network_id ON desks
    FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state OR OLD.desk_type IS DISTINCT FROM NEW.desk_type
        OR OLD.category IS DISTINCT FROM NEW.category OR OLD.cluster_id IS DISTINCT FROM NEW.cluster_id
        OR OLD.strategy_id IS DISTINCT FROM NEW.strategy_id OR OLD.network_id IS DISTINCT FROM NEW.network_id)
    EXECUTE FUNCTION desks_tally();
-- Two transactions moving desks in opposite directions (CLOSE → START_UP and START_UP → CLOSE)
-- would update the same two tally rows in opposite orders and deadlock; a transaction-scoped
-- advisory lock taken before a statement touches a tallied column orders them instead (SQLite
-- has one writer anyway). Placement's lock (7390002) is always taken before this one.
CREATE FUNCTION desks_tally_lock() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(7390016);
    RETURN NULL;
END
$$;
CREATE TRIGGER desks_tally_lock BEFORE INSERT OR DELETE OR UPDATE OF state, desk_type, category, cluster_id, strategy_id, network_id ON desks
    FOR EACH STATEMENT EXECUTE FUNCTION desks_tally_lock();

-- SQLite: the list's indexes (text byte-wise); the name and id orders use the table's unique
-- indexes.
-- Each order has two indexes: (column, created_at, id) serves ASC (and, walked backwards, a
-- page read from the end), (column DESC, created_at, id) serves DESC, because the list always
-- breaks ties by creation time and id ascending.
CREATE INDEX desks_sort_state ON desks(state, created_at, id);
CREATE INDEX desks_sort_state_desc ON desks(state DESC, created_at, id);
CREATE INDEX desks_sort_desk_type ON desks(desk_type, created_at, id);
CREATE INDEX desks_sort_desk_type_desc ON desks(desk_type DESC, created_at, id);
CREATE INDEX desks_sort_category ON desks(category, created_at, id);
CREATE INDEX desks_sort_category_desc ON desks(category DESC, created_at, id);
CREATE INDEX desks_sort_cluster_id ON desks(cluster_id, created_at, id);
CREATE INDEX desks_sort_cluster_id_desc ON desks(cluster_id DESC, created_at, id);
CREATE INDEX desks_sort_strategy_id ON desks(strategy_id, created_at, id);
CREATE INDEX desks_sort_strategy_id_desc ON desks(strategy_id DESC, created_at, id);
CREATE INDEX desks_sort_network_id ON desks(network_id, created_at, id);
CREATE INDEX desks_sort_network_id_desc ON desks(network_id DESC, created_at, id);
CREATE INDEX desks_sort_host_id ON desks(host_id, created_at, id);
CREATE INDEX desks_sort_host_id_desc ON desks(host_id DESC, created_at, id);
CREATE INDEX desks_sort_ip ON desks(ip, created_at, id);
CREATE INDEX desks_sort_ip_desc ON desks(ip DESC, created_at, id);
CREATE INDEX desks_sort_terminal_ip ON desks(terminal_ip, created_at, id);
CREATE INDEX desks_sort_terminal_ip_desc ON desks(terminal_ip DESC, created_at, id);
CREATE INDEX desks_sort_user_name ON desks(user_name, created_at, id);
CREATE INDEX desks_sort_user_name_desc ON desks(user_name DESC, created_at, id);
CREATE INDEX desks_sort_image_name ON desks(image_name, created_at, id);
CREATE INDEX desks_sort_image_name_desc ON desks(image_name DESC, created_at, id);
-- A state filter with each common order.
CREATE INDEX desks_state_name ON desks(state, name, created_at, id);
CREATE INDEX desks_state_name_desc ON desks(state, name DESC, created_at, id);
CREATE INDEX desks_state_ip ON desks(state, ip, created_at, id);
CREATE INDEX desks_state_ip_desc ON desks(state, ip DESC, created_at, id);
CREATE INDEX desks_state_user_name ON desks(state, user_name, created_at, id);
CREATE INDEX desks_state_user_name_desc ON desks(state, user_name DESC, created_at, id);
CREATE INDEX desks_state_image_name ON desks(state, image_name, created_at, id);
CREATE INDEX desks_state_image_name_desc ON desks(state, image_name DESC, created_at, id);

-- Triggers keep the names and the tallies current in the transaction of every desk write.
CREATE TRIGGER desks_named AFTER INSERT ON desks
BEGIN
    UPDATE desks SET
        user_name = COALESCE((SELECT u.name FROM users u WHERE u.id = NEW.user_id), ''),
        image_name = COALESCE((SELECT i.name FROM images i WHERE i.id = NEW.image_id), '')
    WHERE id = NEW.id;
END;
CREATE TRIGGER desks_renamed AFTER UPDATE OF user_id, image_id ON desks
BEGIN
    UPDATE desks SET
        user_name = COALESCE((SELECT u.name FROM users u WHERE u.id = NEW.user_id), ''),
        image_name = COALESCE((SELECT i.name FROM images i WHERE i.id = NEW.image_id), '')
    WHERE id = NEW.id;
END;
CREATE TRIGGER users_renamed AFTER UPDATE OF name ON users
BEGIN
    UPDATE desks SET user_name = NEW.name WHERE user_id = NEW.id;
END;
CREATE TRIGGER images_renamed AFTER UPDATE OF name ON images
BEGIN
    UPDATE desks SET image_name = NEW.name WHERE image_id = NEW.id;
END;
CREATE TRIGGER desks_tally_in AFTER INSERT ON desks
BEGIN
    INSERT INTO desk_tallies (state, desk_type, category, cluster_id, strategy_id, network_id, n)
    VALUES (NEW.state, NEW.desk_type, NEW.category, NEW.cluster_id, NEW.strategy_id, NEW.network_id, 1)
    ON CONFLICT (state, desk_type, category, cluster_id, strategy_id, network_id) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER desks_tally_out AFTER DELETE ON desks
BEGIN
    UPDATE desk_tallies SET n = n - 1
    WHERE state = OLD.state AND desk_type = OLD.desk_type AND category = OLD.category
      AND cluster_id = OLD.cluster_id AND strategy_id = OLD.strategy_id AND network_id = OLD.network_id;
END;
CREATE TRIGGER desks_tally_move AFTER UPDATE OF state, desk_type, category, cluster_id, strategy_id, network_id ON desks
WHEN OLD.state <> NEW.state OR OLD.desk_type <> NEW.desk_type OR OLD.category <> NEW.category
  OR OLD.cluster_id <> NEW.cluster_id OR OLD.strategy_id <> NEW.strategy_id OR OLD.network_id <> NEW.network_id
BEGIN
    UPDATE desk_tallies SET n = n - 1
    WHERE state = OLD.state AND desk_type = OLD.desk_type AND category = OLD.category
      AND cluster_id = OLD.cluster_id AND strategy_id = OLD.strategy_id AND network_id = OLD.network_id;
    INSERT INTO desk_tallies (state, desk_type, category, cluster_id, strategy_id, network_id, n)
    VALUES (NEW.state, NEW.desk_type, NEW.category, NEW.cluster_id, NEW.strategy_id, NEW.network_id, 1)
    ON CONFLICT (state, desk_type, category, cluster_id, strategy_id, network_id) DO UPDATE SET n = n + 1;
END;

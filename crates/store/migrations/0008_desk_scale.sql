-- deskd schema, version 8: the desk list at fleet scale (issue 16).
--
-- The names a desk list sorts and filters by are kept on the desk row, so one index can serve a
-- filter and an order and stop after a page (the backend files below keep them current with
-- triggers, in the same transaction as the write that changes them).
ALTER TABLE desks ADD COLUMN user_name TEXT NOT NULL DEFAULT '';
ALTER TABLE desks ADD COLUMN image_name TEXT NOT NULL DEFAULT '';
UPDATE desks SET
    user_name = COALESCE((SELECT u.name FROM users u WHERE u.id = desks.user_id), ''),
    image_name = COALESCE((SELECT i.name FROM images i WHERE i.id = desks.image_id), '');

-- Exact desk totals without counting the fleet: how many desks have each combination of the
-- low-cardinality fields a list filters by, kept by triggers in the write's transaction.
CREATE TABLE desk_tallies (
    state TEXT NOT NULL,
    desk_type TEXT NOT NULL,
    category TEXT NOT NULL,
    cluster_id TEXT NOT NULL,
    strategy_id TEXT NOT NULL,
    network_id TEXT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (state, desk_type, category, cluster_id, strategy_id, network_id)
);
INSERT INTO desk_tallies (state, desk_type, category, cluster_id, strategy_id, network_id, n)
    SELECT state, desk_type, category, cluster_id, strategy_id, network_id, COUNT(*)
    FROM desks GROUP BY state, desk_type, category, cluster_id, strategy_id, network_id;

-- The lowest address of a network's pool that may be free: every usable address below it is
-- allocated. Placement probes from here instead of reading every used address.
ALTER TABLE networks ADD COLUMN free_hint BIGINT NOT NULL DEFAULT 0;

-- Indexes replaced by the (column, created_at, id) ones below.
DROP INDEX desks_host;
DROP INDEX desks_network;
DROP INDEX desks_ip;
DROP INDEX desks_strategy;
DROP INDEX desks_state_name;

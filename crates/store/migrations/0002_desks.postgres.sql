-- PostgreSQL: the same indexes in byte-wise order, which is how deskd sorts text.
CREATE INDEX desks_state_name ON desks(state, name COLLATE "C");
CREATE INDEX desks_name_c ON desks(name COLLATE "C");

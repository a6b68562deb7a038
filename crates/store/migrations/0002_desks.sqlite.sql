-- SQLite: the desk list's common query (a state filter, sorted by name) reads an index.
CREATE INDEX desks_state_name ON desks(state, name);
CREATE INDEX desks_name ON desks(name);

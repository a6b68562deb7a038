-- deskd schema, version 4: "does this task still have open items?" is asked after every item;
-- without this index the answer scans every finished item of the task first.

CREATE INDEX task_items_open ON task_items(task_id, status);

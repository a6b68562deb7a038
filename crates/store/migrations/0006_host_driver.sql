-- deskd schema, version 6: which hypervisor driver runs a host's desks (`sim` | `qemu`, issue 8).
-- Fixed when the host is created; every host before this version is simulated.

ALTER TABLE hosts ADD COLUMN driver TEXT NOT NULL DEFAULT 'sim';

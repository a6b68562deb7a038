-- deskd schema, version 10: a libvirt host's connection URI (qemu+tcp://ADDR/system, …).
-- NULL for the simulated and QEMU drivers. (Versions 8 and 9 belong to other changes.)

ALTER TABLE hosts ADD COLUMN uri TEXT;

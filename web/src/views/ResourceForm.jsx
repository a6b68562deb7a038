// Create and edit forms of the catalog and fleet resources (the extensions of DECISIONS D10):
// one spec per kind drives one generic form. A refusal shows the server's message, and the
// field it names (`content.<field>: …`) is marked invalid next to its input.
import { useEffect, useRef, useState } from 'preact/hooks';
import { call, pageQuery } from '../api.js';
import { t, label, getLang, ENUM_VALUES, useLang } from '../i18n.js';
import { track } from './Tasks.jsx';

/** [field, label key, input]: input is 'text', 'number', ['enum', Kind], ['ref', list path, id key, name key]. */
const CLUSTER_REF = ['ref', '/v1/rccp/cluster:pagequery', 'id', 'cluster_name'];

/** kind → {create, edit: [method, path], id: the row's id key, async: create answers a task, fields} */
export const FORMS = {
  images: {
    create: '/v1/image/create',
    edit: ['PUT', '/v1/image/edit'],
    id: 'id',
    async: true,
    fields: [
      ['image_name', 'name', 'text', true],
      ['os_file_id', 'osFile', ['ref', '/v1/osFile:pagequery', 'id', 'image_file_name'], true, 'createOnly'],
      ['cpu', 'cpu', 'number'],
      ['memory', 'memoryGb', 'number'],
      ['image_system_size', 'systemDiskGb', 'number'],
      ['network_id', 'network', ['ref', '/v1/desk_network:pagequery', 'id', 'desk_network_name']],
      ['note', 'note', 'text'],
    ],
  },
  strategies: {
    create: '/v1/desk_strategy/create',
    edit: ['PUT', '/v1/desk_strategy/edit'],
    id: 'desk_strategy_id',
    fields: [
      ['desk_strategy_name', 'name', 'text', true],
      ['desk_category', 'category', ['enum', 'DeskCategory'], true],
      ['desk_type', 'type', ['enum', 'DeskType'], true],
      ['cpu_cores', 'cpu', 'number', true],
      ['memory', 'memoryGb', 'number', true],
      ['system_disk', 'systemDiskGb', 'number', true],
      ['data_disk', 'dataDiskGb', 'number'],
      ['description', 'description', 'text'],
    ],
  },
  networks: {
    create: '/v1/desk_network/create',
    edit: ['PUT', '/v1/desk_network/edit'],
    id: 'id',
    fields: [
      ['desk_network_name', 'name', 'text', true],
      ['cluster_id', 'cluster', CLUSTER_REF, true],
      ['ip_cidr', 'cidr', 'text', true],
      ['gateway', 'gateway', 'text', true],
      ['ip_pool_start', 'poolStart', 'text', true],
      ['ip_pool_end', 'poolEnd', 'text', true],
      ['dns_primary', 'dns1', 'text', true],
      ['dns_secondary', 'dns2', 'text'],
      ['vlan', 'vlan', 'number'],
    ],
  },
  clusters: {
    create: '/v1/rccp/cluster/create',
    edit: ['PUT', '/v1/rccp/cluster/edit'],
    id: 'id',
    fields: [
      ['cluster_name', 'name', 'text', true],
      ['cluster_desc', 'description', 'text'],
      ['cluster_state', 'state', ['enum', 'ClusterState']],
    ],
  },
  hosts: {
    create: '/v1/rccp/host/create',
    edit: ['PUT', '/v1/rccp/host/edit'],
    id: 'id',
    fields: [
      ['host_name', 'name', 'text', true],
      ['cluster_id', 'cluster', CLUSTER_REF, true],
      ['ip', 'ip', 'text', true],
      ['driver', 'driver', ['enum', 'HostDriver'], true],
      ['uri', 'uri', 'text'],
      ['cpu_cores', 'cpu', 'number', true],
      ['memory', 'memoryGb', 'number', true],
      ['storage', 'storageGb', 'number', true],
      ['cpu_overcommit', 'cpuOvercommit', 'number'],
      ['memory_overcommit', 'memoryOvercommit', 'number'],
      ['exporter_url', 'exporterUrl', 'text'],
      ['host_state', 'state', ['enum', 'HostState']],
    ],
  },
  pools: {
    create: '/v1/rccp/storage_pool/create',
    edit: ['PUT', '/v1/rccp/storage_pool/edit'],
    id: 'id',
    fields: [
      ['name', 'name', 'text', true],
      ['cluster_id', 'cluster', CLUSTER_REF, true],
      ['directory', 'directory', 'text'],
      ['capacity', 'capacityGb', 'number'],
      ['redundancy_strategy', 'redundancy', ['enum', 'Redundancy']],
      ['storage_pool_health_state', 'state', ['enum', 'PoolHealth']],
    ],
  },
};

/** The field a refusal names: `content.ip_cidr: …` (or `content.x.y`) → `ip_cidr`, if the form has it. */
export function fieldOf(message, fields) {
  const names = new Set(fields.map((f) => f[0]));
  for (const m of String(message || '').matchAll(/content\.([A-Za-z_]+)/g)) {
    if (names.has(m[1])) return m[1];
  }
  return fields.map((f) => f[0]).find((n) => new RegExp(`\\b${n}\\b`).test(String(message || ''))) || '';
}

/** The value a form input holds for `row[field]` (a network lists its cluster in `cluster_id_list`). */
const shown = (row, field) => {
  const v = row[field] ?? row[`${field}_list`]?.[0];
  return v == null ? '' : String(v);
};

/** The request body: on create every filled field; on edit the id and the fields that changed. */
function body(spec, form, row) {
  const out = {};
  for (const [name, , input, , createOnly] of spec.fields) {
    if (row && createOnly) continue;
    const raw = String(form.get(name) ?? '').trim();
    if (row ? raw === shown(row, name) : raw === '') continue;
    out[name] = input === 'number' && raw !== '' ? Number(raw) : raw;
  }
  if (row) out.id = row[spec.id];
  return out;
}

/** Options of a reference field, loaded once. */
function useRefs(fields) {
  const [refs, setRefs] = useState({});
  useEffect(() => {
    for (const [name, , input] of fields) {
      if (!Array.isArray(input) || input[0] !== 'ref') continue;
      pageQuery('PUT', input[1], { page: 0, limit: 100 })
        .then((d) => setRefs((r) => ({ ...r, [name]: d.item_arr.map((x) => [x[input[2]] ?? x.Id, x[input[3]]]) })))
        .catch(() => {});
    }
  }, [fields]);
  return refs;
}

function Input({ field, row, refs, bad, describedBy }) {
  const [name, , input, required, createOnly] = field;
  const common = {
    name,
    id: `f-${name}`,
    'aria-invalid': bad ? 'true' : undefined,
    'aria-describedby': bad ? describedBy : undefined,
    required: required && !row,
    disabled: row && createOnly,
  };
  const value = row ? shown(row, name) : '';
  if (Array.isArray(input)) {
    const opts = input[0] === 'enum' ? ENUM_VALUES(input[1]).map((v) => [v, label(input[1], v)]) : refs[name] || [];
    return (
      <select {...common}>
        {!required || row ? <option value="">—</option> : null}
        {opts.map(([v, text]) => (
          <option key={v} value={v} selected={v === value}>{text}</option>
        ))}
      </select>
    );
  }
  return <input {...common} type={input === 'number' ? 'number' : 'text'} step={input === 'number' ? 'any' : undefined} defaultValue={value} />;
}

/** Create (row null) or edit (row given) one resource of `kind`; `onDone` after a success. */
export function ResourceForm({ kind, row, onDone, onCancel }) {
  useLang();
  const spec = FORMS[kind];
  const refs = useRefs(spec.fields);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const self = useRef(null);
  useEffect(() => {
    setError(null);
    if (row) self.current?.scrollIntoView?.({ block: 'nearest' });
  }, [kind, row]);

  async function submit(e) {
    e.preventDefault();
    const form = e.currentTarget;
    setBusy(true);
    try {
      const [method, path] = row ? spec.edit : ['POST', spec.create];
      const d = await call(method, path, body(spec, new FormData(form), row));
      if (d?.task_id) track(d.task_id, `${t(row ? 'edit' : 'create')} ${t(kind)}`);
      setError(null);
      if (!row) form.reset();
      onDone?.();
    } catch (err) {
      setError({ text: err.message, tip: err.userTip, field: fieldOf(err.message, spec.fields) });
    } finally {
      setBusy(false);
    }
  }

  const title = `${t(row ? 'edit' : 'new')} · ${t(kind)}`;
  const errId = `err-${kind}`;
  return (
    <form ref={self} class="card resource" data-kind={kind} data-mode={row ? 'edit' : 'create'} onSubmit={submit} aria-labelledby={`rf-${kind}`} key={row ? row[spec.id] : 'new'}>
      <h2 id={`rf-${kind}`}>{title}{row ? `: ${row[spec.fields[0][0]] ?? ''}` : ''}</h2>
      {spec.fields.map((f) => (
        <label key={f[0]} class={error?.field === f[0] ? 'bad-field' : undefined}>
          {t(f[1])}
          {f[3] && !row ? ' *' : ''}
          <Input field={f} row={row} refs={refs} bad={error?.field === f[0]} describedBy={errId} />
        </label>
      ))}
      {error && (
        <p class="error" role="alert" id={errId} data-field={error.field}>
          {error.field ? `${t(spec.fields.find((f) => f[0] === error.field)[1])}: ` : ''}
          {(getLang() === 'zh-CN' && error.tip) || error.text}
        </p>
      )}
      <div class="toolbar">
        <button type="submit" disabled={busy}>{t(row ? 'save' : 'create')}</button>
        {row && <button type="button" class="ghost" onClick={onCancel}>{t('cancel')}</button>}
      </div>
    </form>
  );
}

// Lists of the catalog and the fleet: images, OS files (with an upload progress bar),
// strategies, networks, clusters, hosts and storage pools, each paged by the server, with a
// create form, and an edit and a delete button per row (ResourceForm.jsx, Delete.jsx).
import { useEffect, useState } from 'preact/hooks';
import { getSession, pageQuery } from '../api.js';
import { t, label, useLang } from '../i18n.js';
import { Pager } from './Pager.jsx';
import { FORMS, ResourceForm } from './ResourceForm.jsx';
import { ConfirmDelete, DELETES } from './Delete.jsx';
import { track } from './Tasks.jsx';

/** kind → [listing path, columns: [field, label key, enumeration kind?]] */
export const CATALOG = {
  images: ['/v1/image:pagequery', [['image_name', 'name'], ['image_state', 'state', 'ImageState'], ['image_type', 'type'], ['image_system_size', 'size']]],
  osFiles: ['/v1/osFile:pagequery', [['image_file_name', 'name'], ['image_file_state', 'state', 'ImageFileState'], ['cbb_image_format', 'type'], ['image_file_size', 'size']]],
  strategies: ['/v1/desk_strategy:pagequery', [['desk_strategy_name', 'name'], ['desk_type', 'type', 'DeskType'], ['cpu_cores', 'cpu'], ['memory', 'memory'], ['system_disk', 'disk']]],
  networks: ['/v1/desk_network:pagequery', [['desk_network_name', 'name'], ['ip_cidr', 'ip'], ['gateway', 'net'], ['desk_network_state', 'state']]],
  clusters: ['/v1/rccp/cluster:pagequery', [['cluster_name', 'name'], ['cluster_state', 'state', 'ClusterState'], ['cluster_desc', 'summary']]],
  hosts: ['/v1/rccp/host:pagequery', [['host_name', 'name'], ['ip', 'ip'], ['host_state', 'state', 'HostState'], ['cpu_cores', 'cpu'], ['memory', 'memory'], ['storage', 'disk']]],
  pools: ['/v1/rccp/storage_pool:pagequery', [['name', 'name'], ['storage_pool_health_state', 'state', 'PoolHealth'], ['total_capacity', 'size'], ['used_capacity', 'disk']]],
};

export function Catalog({ kind }) {
  useLang();
  const [path, cols] = CATALOG[kind];
  const [page, setPage] = useState(0);
  const [data, setData] = useState(null);
  const [error, setError] = useState('');
  const [tick, setTick] = useState(0);
  const [editing, setEditing] = useState(null);
  const [deleting, setDeleting] = useState(null);
  const limit = 20;
  const form = FORMS[kind];
  const removable = !!DELETES[kind];
  const idOf = (r) => r[form?.id || 'id'];
  const nameOf = (r) => String(r[cols[0][0]] ?? idOf(r));
  const refresh = () => setTick((x) => x + 1);

  /** The delete was accepted: the table shows it now, and again once its task (if any) ends. */
  function deleted(row, taskId) {
    setDeleting(null);
    if (editing && idOf(editing) === idOf(row)) setEditing(null);
    refresh();
    if (taskId) track(taskId, `${t('delete')} ${t(kind)} ${nameOf(row)}`).then(refresh);
  }
  // A refresh keeps the rows on screen until the new page arrives (no flicker, and a deleted
  // row leaves only when the server no longer lists it); another kind starts empty.
  useEffect(() => {
    let live = true;
    pageQuery('PUT', path, { page, limit })
      .then((d) => live && (setData(d), setError('')))
      .catch((e) => live && setError(e.userTip || e.message));
    return () => (live = false);
  }, [kind, page, tick]);
  useEffect(() => (setData(null), setPage(0), setEditing(null), setDeleting(null)), [kind]);
  return (
    <section aria-labelledby="cat-title">
      <h1 id="cat-title">{t(kind)}</h1>
      {error && <p class="error" role="alert">{error}</p>}
      {kind === 'osFiles' && <Upload onDone={refresh} />}
      {form && (
        <ResourceForm
          kind={kind}
          row={editing}
          onDone={() => (setEditing(null), refresh(), setTimeout(refresh, 600))}
          onCancel={() => setEditing(null)}
        />
      )}
      <div class="table-wrap">
      <table class="grid" data-kind={kind}>
        <thead>
          <tr>
            {cols.map(([f, key]) => (
              <th key={f} scope="col">{t(key)}</th>
            ))}
            {(form || removable) && <th scope="col">{t('actions')}</th>}
          </tr>
        </thead>
        <tbody>
          {(data?.item_arr || []).map((r, i) => (
            <tr key={(form && r[form.id]) || r.id || i} data-name={r[cols[0][0]]}>
              {cols.map(([f, , e]) => (
                <td key={f} class={`c-${f}`}>{e ? label(e, r[f]) : String(r[f] ?? '')}</td>
              ))}
              {(form || removable) && (
                <td class="row-actions">
                  {form && (
                    <button type="button" class="small edit" aria-label={`${t('edit')} ${nameOf(r)}`} onClick={() => setEditing(r)}>
                      {t('edit')}
                    </button>
                  )}
                  {removable && (
                    <button type="button" class="small danger delete" aria-label={`${t('delete')} ${nameOf(r)}`} onClick={() => setDeleting(r)}>
                      {t('delete')}
                    </button>
                  )}
                </td>
              )}
            </tr>
          ))}
          {data && !data.item_arr.length && (
            <tr>
              <td colSpan={cols.length + (form || removable ? 1 : 0)}>{t('noRows')}</td>
            </tr>
          )}
        </tbody>
      </table>
      </div>
      <Pager page={page} limit={limit} total={data?.total} onPage={setPage} />
      {deleting && (
        <ConfirmDelete
          key={idOf(deleting)}
          kind={kind}
          id={idOf(deleting)}
          name={nameOf(deleting)}
          onDeleted={(taskId) => deleted(deleting, taskId)}
          onClose={() => setDeleting(null)}
        />
      )}
    </section>
  );
}

async function sha256Hex(file) {
  if (!crypto.subtle) throw new Error('SHA-256 needs a secure context (HTTPS or localhost)');
  const d = await crypto.subtle.digest('SHA-256', await file.arrayBuffer());
  return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** Uploads an OS file with a progress bar (XMLHttpRequest reports upload progress; fetch does not). */
function Upload({ onDone }) {
  const [pools, setPools] = useState([]);
  const [pct, setPct] = useState(null);
  const [msg, setMsg] = useState('');
  useEffect(() => {
    pageQuery('PUT', '/v1/rccp/storage_pool:pagequery', { page: 0, limit: 100 }).then((d) => setPools(d.item_arr)).catch(() => {});
  }, []);
  async function submit(e) {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    const file = f.get('file');
    if (!(file instanceof File) || !file.size) return;
    try {
      const sha = await sha256Hex(file);
      const format = file.name.toLowerCase().endsWith('.iso') ? 'ISO' : 'QCOW2';
      const qs = new URLSearchParams({
        name: file.name,
        format,
        os_name: String(f.get('os_name')),
        size: String(file.size),
        sha256: sha,
        storage_pool_id: String(f.get('pool')),
      });
      setPct(0);
      await new Promise((resolve, reject) => {
        const x = new XMLHttpRequest();
        x.open('POST', `/v1/osFile/upload?${qs}`);
        x.setRequestHeader('Authorization', `Bearer ${getSession()?.token}`);
        x.upload.onprogress = (ev) => ev.lengthComputable && setPct(Math.round((100 * ev.loaded) / ev.total));
        x.onload = () => {
          try {
            const c = JSON.parse(x.responseText).content;
            c.code === 0 ? resolve() : reject(new Error(c.user_tip || c.message));
          } catch {
            reject(new Error(`HTTP ${x.status}`));
          }
        };
        x.onerror = () => reject(new Error('network error'));
        x.send(file);
      });
      setPct(100);
      setMsg('OK');
      onDone();
    } catch (err) {
      setMsg(err.message);
    }
  }
  return (
    <form class="card" onSubmit={submit} aria-labelledby="up-title">
      <h2 id="up-title">{t('upload')}</h2>
      <label>
        {t('file')}
        <input type="file" name="file" required />
      </label>
      <label>
        OS
        <select name="os_name">
          {['UBUNTU_64', 'UOS_64', 'WIN_10_64', 'WIN_7_64', 'CENTOS_64'].map((o) => (
            <option key={o} value={o}>{label('OsName', o)}</option>
          ))}
        </select>
      </label>
      <label>
        {t('pools')}
        <select name="pool">
          {pools.map((p) => (
            <option key={p.id} value={p.id}>{p.name}</option>
          ))}
        </select>
      </label>
      <button type="submit">{t('upload')}</button>
      {pct !== null && <progress max="100" value={pct} aria-label={t('progress')} />}
      {msg && <p role="status">{msg}</p>}
    </form>
  );
}

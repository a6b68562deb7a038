// The desk table: server-side paging, sort and filter with 6.1.2's query language
// (match_arr EQ/EXACT, sort_arr), multi-select actions, and the batch-create form.
import { useEffect, useState } from 'preact/hooks';
import { call, pageQuery } from '../api.js';
import { t, label, useLang, ENUM_VALUES } from '../i18n.js';
import { track } from './Tasks.jsx';
import { BatchCreate } from './BatchCreate.jsx';

const COLUMNS = [
  ['desktopName', 'desk_name', 'name'],
  ['deskState', 'desk_state', 'state', 'DeskState'],
  ['deskType', 'desk_type', 'type', 'DeskType'],
  ['userName', 'user_name', 'user'],
  ['imageName', 'image_name', 'image'],
  [null, 'host_name', 'host'],
  ['ip', 'ip', 'ip'],
  ['createTime', 'create_time', 'created'],
];

const ACTIONS = [
  ['start', 'start'],
  ['shutdown', 'shutdown'],
  ['powerOff', 'powerOff'],
  ['restart', 'restart'],
];

export function Desks() {
  useLang();
  const [q, setQ] = useState({ page: 0, limit: 20, sort: [['createTime', 'DESC']], state: '', name: '', user: '' });
  const [data, setData] = useState(null);
  const [error, setError] = useState('');
  const [selected, setSelected] = useState(new Set());
  const [tick, setTick] = useState(0);
  // The filter inputs are uncontrolled (their values are read on Apply): bound to `q`, the
  // 3-second refresh re-rendered them back to the applied filter while an operator was still
  // choosing. Clear remounts the form with empty inputs.
  const [filterForm, setFilterForm] = useState(0);

  useEffect(() => {
    let live = true;
    const match = [];
    if (q.state) match.push(['deskState', [q.state]]);
    if (q.name) match.push(['desktopName', [q.name]]);
    if (q.user) match.push(['userName', [q.user]]);
    pageQuery('PUT', '/v1/desk:pagequery', { page: q.page, limit: q.limit, match, sort: q.sort })
      .then((d) => live && (setData(d), setError('')))
      .catch((e) => live && setError(e.userTip || e.message));
    return () => (live = false);
  }, [q, tick]);

  // Desks change state under running tasks: refresh the page every few seconds.
  useEffect(() => {
    const id = setInterval(() => setTick((x) => x + 1), 3000);
    return () => clearInterval(id);
  }, []);

  const rows = data?.item_arr || [];
  const pages = data ? Math.max(1, Math.ceil(data.total / q.limit)) : 1;

  function sortBy(field) {
    const [cur, dir] = q.sort[0] || [];
    const next = cur === field && dir === 'ASC' ? 'DESC' : 'ASC';
    setQ({ ...q, page: 0, sort: [[field, next]] });
  }

  function toggle(id) {
    const s = new Set(selected);
    s.has(id) ? s.delete(id) : s.add(id);
    setSelected(s);
  }

  async function act(verb) {
    const ids = [...selected];
    for (const id of ids) {
      const name = rows.find((r) => r.desk_id === id)?.desk_name || id;
      try {
        const d = await call('PUT', `/v1/desk/${encodeURIComponent(id)}:${verb}`, {});
        if (d?.task_id) track(d.task_id, `${t(verb)} ${name}`);
      } catch (e) {
        setError(`${name}: ${e.userTip || e.message}`);
      }
    }
    setTick((x) => x + 1);
  }

  async function remove() {
    const ids = [...selected];
    try {
      const d = await call('POST', '/v1/desk/batch/delete', {
        desk_info_arr: ids.map((desk_id) => ({ id: desk_id, desk_id })),
      });
      track(d.task_id, `${t('delete')} × ${ids.length}`);
      setSelected(new Set());
    } catch (e) {
      setError(e.userTip || e.message);
    }
  }

  function applyFilter(e) {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    setQ({ ...q, page: 0, state: String(f.get('state')), name: String(f.get('name')).trim(), user: String(f.get('user')).trim() });
  }

  const allOnPage = rows.length > 0 && rows.every((r) => selected.has(r.desk_id));
  const [sortField, sortDir] = q.sort[0] || [];

  return (
    <section aria-labelledby="desks-title">
      <h1 id="desks-title">{t('desks')}</h1>
      <form class="filters" key={filterForm} onSubmit={applyFilter} aria-label={t('filter')}>
        <label>
          {t('state')}
          <select name="state">
            <option value="" selected={!q.state}>{t('allStates')}</option>
            {ENUM_VALUES('DeskState').map((s) => (
              <option key={s} value={s} selected={s === q.state}>{label('DeskState', s)}</option>
            ))}
          </select>
        </label>
        <label>
          {t('name')}
          <input name="name" defaultValue={q.name} />
        </label>
        <label>
          {t('user')}
          <input name="user" defaultValue={q.user} />
        </label>
        <button type="submit">{t('apply')}</button>
        <button
          type="button"
          class="ghost"
          onClick={() => (setQ({ ...q, page: 0, state: '', name: '', user: '' }), setFilterForm((k) => k + 1))}
        >
          {t('clear')}
        </button>
      </form>
      <div class="toolbar" role="toolbar" aria-label={t('actions')}>
        <span>{t('selected')}: <span class="selected-count">{selected.size}</span></span>
        {ACTIONS.map(([verb, key]) => (
          <button key={verb} type="button" disabled={!selected.size} onClick={() => act(verb)} data-action={verb}>
            {t(key)}
          </button>
        ))}
        <button type="button" class="danger" disabled={!selected.size} onClick={remove} data-action="delete">
          {t('delete')}
        </button>
      </div>
      {error && <p class="error" role="alert">{error}</p>}
      <div class="table-wrap" tabIndex={0} role="region" aria-label={t('desks')}>
      <table class="grid desks">
        <caption class="sr-only">{t('desks')}</caption>
        <thead>
          <tr>
            <th scope="col">
              <input
                type="checkbox"
                aria-label={t('selectAll')}
                checked={allOnPage}
                onChange={() => {
                  const s = new Set(selected);
                  rows.forEach((r) => (allOnPage ? s.delete(r.desk_id) : s.add(r.desk_id)));
                  setSelected(s);
                }}
              />
            </th>
            {COLUMNS.map(([field, , key]) => (
              <th key={key} scope="col" aria-sort={field && sortField === field ? (sortDir === 'ASC' ? 'ascending' : 'descending') : undefined}>
                {field ? (
                  <button type="button" class="sort" data-sort={field} onClick={() => sortBy(field)}>
                    {t(key)} {sortField === field ? (sortDir === 'ASC' ? '▲' : '▼') : ''}
                  </button>
                ) : (
                  t(key)
                )}
              </th>
            ))}
            <th scope="col">{t('console')}</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.desk_id} data-desk-id={r.desk_id} data-state={r.desk_state}>
              <td>
                <input type="checkbox" aria-label={`${t('selectRow')} ${r.desk_name}`} checked={selected.has(r.desk_id)} onChange={() => toggle(r.desk_id)} />
              </td>
              {COLUMNS.map(([, key, , kind]) => (
                <td key={key} class={`c-${key}`}>
                  {kind ? <span class={`badge s-${r[key]}`}>{label(kind, r[key])}</span> : key === 'create_time' ? new Date(r[key]).toLocaleString() : r[key]}
                </td>
              ))}
              <td>
                {r.desk_state === 'RUNNING' ? <a href={`#/console/${encodeURIComponent(r.desk_id)}`}>{t('open')}</a> : '—'}
              </td>
            </tr>
          ))}
          {data && !rows.length && (
            <tr>
              <td colSpan={COLUMNS.length + 2}>{t('noRows')}</td>
            </tr>
          )}
        </tbody>
      </table>
      </div>
      <nav class="pager" aria-label={t('page')}>
        <button type="button" disabled={q.page === 0} onClick={() => setQ({ ...q, page: q.page - 1 })}>{t('prev')}</button>
        <span class="page-of">
          {t('page')} <span class="page-no">{q.page + 1}</span> / {pages} · {t('total')} <span class="desk-total">{data?.total ?? '…'}</span>
        </span>
        <button type="button" disabled={q.page + 1 >= pages} onClick={() => setQ({ ...q, page: q.page + 1 })}>{t('next')}</button>
        <label>
          {t('perPage')}
          <select value={q.limit} onChange={(e) => setQ({ ...q, page: 0, limit: Number(e.currentTarget.value) })}>
            {[10, 20, 50, 100].map((n) => (
              <option key={n} value={n}>{n}</option>
            ))}
          </select>
        </label>
      </nav>
      <BatchCreate onCreated={() => setTick((x) => x + 1)} />
    </section>
  );
}

// Desktop users and the group tree: list by group, create, edit (6.2.6), enable/disable
// (6.2.7/6.2.8, several or one), change a password (6.2.9), an operator's password reset
// (extension), and a CSV import that previews each row's problem before anything is created.
import { useEffect, useState } from 'preact/hooks';
import { call, pageQuery } from '../api.js';
import { t, label, useLang } from '../i18n.js';
import { Pager } from './Pager.jsx';
import { track } from './Tasks.jsx';
import { checkRows, parseCsv } from '../csv.js';
import { UserEdit, UserPassword, UserReset } from './UserEdit.jsx';

function GroupTree({ nodes, current, onPick }) {
  return (
    <ul role="group">
      {nodes.map((n) => (
        <li key={n.id} role="treeitem" aria-selected={current === n.id}>
          <button type="button" class={current === n.id ? 'link on' : 'link'} onClick={() => onPick(n.id)}>
            {n.label}
          </button>
          {n.children?.length > 0 && <GroupTree nodes={n.children} current={current} onPick={onPick} />}
        </li>
      ))}
    </ul>
  );
}

export function Users() {
  useLang();
  const [tree, setTree] = useState([]);
  const [group, setGroup] = useState('');
  const [page, setPage] = useState(0);
  const [data, setData] = useState(null);
  const [selected, setSelected] = useState(new Set());
  const [error, setError] = useState('');
  const [tick, setTick] = useState(0);
  const [open, setOpen] = useState(null); // [user row, 'edit' | 'password' | 'reset']
  const limit = 20;
  const later = () => setTimeout(() => setTick((x) => x + 1), 500);

  useEffect(() => {
    call('GET', '/v1/usergroup/list').then((d) => setTree(d.item_arr)).catch((e) => setError(e.userTip || e.message));
  }, [tick]);
  useEffect(() => {
    const match = group ? [['groupId', [group]]] : [];
    pageQuery('POST', '/v1/user/list', { page, limit, match, sort: [['userName', 'ASC']] })
      .then(setData)
      .catch((e) => setError(e.userTip || e.message));
  }, [group, page, tick]);

  async function setState(enable, names = [...selected]) {
    try {
      const d = await call('POST', enable ? '/v1/user/batch/enableUser' : '/v1/user/batch/disableUser', {
        user_arr: names.map((user_name) => ({ user_name })),
      });
      const what = names.length === 1 ? names[0] : `× ${names.length}`;
      setSelected(new Set());
      // the list shows the new states once the task has ended
      if (d?.task_id) await track(d.task_id, `${t(enable ? 'enable' : 'disable')} ${what}`);
      setTick((x) => x + 1);
    } catch (e) {
      setError(e.userTip || e.message);
    }
  }

  async function createUser(e) {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    try {
      const d = await call('POST', '/v1/user/create', {
        user_name: String(f.get('user_name')).trim(),
        user_group_name: String(f.get('group')).trim(),
        real_name: String(f.get('real_name')).trim(),
        password: String(f.get('password')),
      });
      track(d.task_id, `${t('newUser')} ${f.get('user_name')}`);
      e.currentTarget.reset();
      setTimeout(() => setTick((x) => x + 1), 500);
    } catch (err) {
      setError(err.userTip || err.message);
    }
  }

  const rows = data?.item_arr || [];
  return (
    <section aria-labelledby="users-title">
      <h1 id="users-title">{t('users')}</h1>
      {error && <p class="error" role="alert">{error}</p>}
      <div class="split">
        <nav class="card tree" aria-label={t('groups')}>
          <h2>{t('groups')}</h2>
          <button type="button" class={group ? 'link' : 'link on'} onClick={() => (setGroup(''), setPage(0))}>{t('allGroups')}</button>
          <div role="tree" aria-label={t('groups')}>
            <GroupTree nodes={tree} current={group} onPick={(id) => (setGroup(id), setPage(0))} />
          </div>
        </nav>
        <div>
          <div class="toolbar" role="toolbar" aria-label={t('actions')}>
            <span>{t('selected')}: {selected.size}</span>
            <button type="button" disabled={!selected.size} onClick={() => setState(true)}>{t('enable')}</button>
            <button type="button" disabled={!selected.size} onClick={() => setState(false)}>{t('disable')}</button>
          </div>
          {open?.[1] === 'edit' && <UserEdit key={open[0].id} user={open[0]} onDone={() => (setOpen(null), later())} onCancel={() => setOpen(null)} />}
          {open?.[1] === 'password' && <UserPassword key={open[0].id} user={open[0]} onCancel={() => setOpen(null)} />}
          {open?.[1] === 'reset' && <UserReset key={open[0].id} user={open[0]} onCancel={() => setOpen(null)} />}
          <div class="table-wrap">
          <table class="grid users">
            <thead>
              <tr>
                <th scope="col"><span class="sr-only">{t('selectRow')}</span></th>
                <th scope="col">{t('userName')}</th>
                <th scope="col">{t('realName')}</th>
                <th scope="col">{t('group')}</th>
                <th scope="col">{t('type')}</th>
                <th scope="col">{t('state')}</th>
                <th scope="col">{t('desks')}</th>
                <th scope="col">{t('actions')}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((u) => (
                <tr key={u.id} data-user={u.user_name} data-state={u.user_state}>
                  <td>
                    <input
                      type="checkbox"
                      aria-label={`${t('selectRow')} ${u.user_name}`}
                      checked={selected.has(u.user_name)}
                      onChange={() => {
                        const s = new Set(selected);
                        s.has(u.user_name) ? s.delete(u.user_name) : s.add(u.user_name);
                        setSelected(s);
                      }}
                    />
                  </td>
                  <td>{u.user_name}</td>
                  <td>{u.real_name}</td>
                  <td>{u.group_path}</td>
                  <td>{label('UserType', u.user_type)}</td>
                  <td>{label('UserState', u.user_state)}</td>
                  <td>{u.desktop_num}</td>
                  <td class="row-actions">
                    <button type="button" class="small edit" aria-label={`${t('edit')} ${u.user_name}`} onClick={() => setOpen([u, 'edit'])}>{t('edit')}</button>
                    <button
                      type="button"
                      class="small ghost toggle"
                      aria-label={`${t(u.user_state === 'ENABLE' ? 'disable' : 'enable')} ${u.user_name}`}
                      onClick={() => setState(u.user_state !== 'ENABLE', [u.user_name])}
                    >
                      {t(u.user_state === 'ENABLE' ? 'disable' : 'enable')}
                    </button>
                    <button type="button" class="small ghost password" aria-label={`${t('changePassword')} ${u.user_name}`} onClick={() => setOpen([u, 'password'])}>{t('changePassword')}</button>
                    <button type="button" class="small ghost reset" aria-label={`${t('resetPassword')} ${u.user_name}`} onClick={() => setOpen([u, 'reset'])}>{t('resetPassword')}</button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          </div>
          <Pager page={page} limit={limit} total={data?.total} onPage={setPage} />
          <form class="card" onSubmit={createUser} aria-labelledby="nu-title">
            <h2 id="nu-title">{t('newUser')}</h2>
            <label>{t('userName')}<input name="user_name" required /></label>
            <label>{t('group')}<input name="group" required value="web" /></label>
            <label>{t('realName')}<input name="real_name" /></label>
            <label>{t('password')}<input name="password" type="password" autocomplete="new-password" required /></label>
            <button type="submit">{t('create')}</button>
          </form>
          <CsvImport onDone={() => setTimeout(() => setTick((x) => x + 1), 500)} />
        </div>
      </div>
    </section>
  );
}

function CsvImport({ onDone }) {
  useLang();
  const [rows, setRows] = useState(null);
  const [imported, setImported] = useState(0);

  async function preview(e) {
    const file = e.currentTarget.files?.[0];
    if (!file) return;
    const text = await file.text();
    const policy = await call('POST', '/v1/user/globalStrategy/detail', {}).then((g) => g.password_policy).catch(() => null);
    const exists = async (name) => (await call('POST', '/v1/user/exist', { user_name: name }).catch(() => ({ exist: false }))).exist;
    setRows(await checkRows(parseCsv(text), policy, exists));
    setImported(0);
  }

  async function run() {
    let n = 0;
    for (const r of rows.filter((x) => !x.problem)) {
      try {
        const d = await call('POST', '/v1/user/create', {
          user_name: r.user_name,
          user_group_name: r.group,
          real_name: r.real_name,
          password: r.password,
        });
        track(d.task_id, `${t('importCsv')} ${r.user_name}`);
        n += 1;
      } catch (e) {
        r.problem = e.userTip || e.message;
      }
    }
    setImported(n);
    setRows([...rows]);
    onDone();
  }

  return (
    <section class="card csv" aria-labelledby="csv-title">
      <h2 id="csv-title">{t('importCsv')}</h2>
      <p class="hint">{t('csvHelp')}</p>
      <label>
        {t('file')}
        <input type="file" accept=".csv,text/csv" name="csv" onChange={preview} />
      </label>
      {rows && (
        <>
          <table class="grid preview">
            <caption>{t('preview')}</caption>
            <thead>
              <tr>
                <th scope="col">#</th>
                <th scope="col">{t('userName')}</th>
                <th scope="col">{t('group')}</th>
                <th scope="col">{t('realName')}</th>
                <th scope="col">{t('problem')}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.line} class={r.problem ? 'bad-row' : 'ok-row'}>
                  <td>{r.line}</td>
                  <td>{r.user_name}</td>
                  <td>{r.group}</td>
                  <td>{r.real_name}</td>
                  <td>{r.problem || t('ok')}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <button type="button" onClick={run} disabled={!rows.some((r) => !r.problem)}>{t('importRows')}</button>
          {imported > 0 && <p role="status" class="imported">{t('imported')}: {imported}</p>}
        </>
      )}
    </section>
  );
}

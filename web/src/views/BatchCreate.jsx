// The batch-create form: N desks of one image, strategy and network for one user, as one
// 6.1.10 task whose progress and per-item results show in the task panel.
import { useEffect, useState } from 'preact/hooks';
import { call, pageQuery } from '../api.js';
import { t, useLang } from '../i18n.js';
import { track } from './Tasks.jsx';

const first = (method, path) => pageQuery(method, path, { page: 0, limit: 100 }).then((d) => d.item_arr);

export function BatchCreate({ onCreated }) {
  useLang();
  const [opts, setOpts] = useState(null);
  const [error, setError] = useState('');

  useEffect(() => {
    Promise.all([
      first('PUT', '/v1/image:pagequery'),
      first('PUT', '/v1/desk_strategy:pagequery'),
      first('PUT', '/v1/desk_network:pagequery'),
      first('POST', '/v1/user/list'),
    ])
      .then(([images, strategies, networks, users]) => setOpts({ images, strategies, networks, users }))
      .catch((e) => setError(e.userTip || e.message));
  }, []);

  async function submit(e) {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    const count = Number(f.get('count'));
    const prefix = String(f.get('prefix')).trim();
    const stamp = Date.now().toString(36);
    const item = (i) => ({
      id: String(i + 1),
      user_name: String(f.get('user')),
      image_id: String(f.get('image')),
      desk_strategy_id: String(f.get('strategy')),
      network_id: String(f.get('network')),
      desk_name: `${prefix}-${stamp}-${i + 1}`,
    });
    try {
      const d = await call('POST', '/v1/desk/batch/create', {
        desk_info_arr: Array.from({ length: count }, (_, i) => item(i)),
      });
      track(d.task_id, `${t('batchCreate')} ${prefix} × ${count}`);
      setError('');
      onCreated?.();
    } catch (err) {
      setError(err.userTip || err.message);
    }
  }

  const select = (name, key, list, value, text) => (
    <label>
      {t(key)}
      <select name={name} required>
        {(list || []).map((x) => (
          <option key={x[value]} value={x[value]}>{x[text]}</option>
        ))}
      </select>
    </label>
  );

  return (
    <form class="card batch" onSubmit={submit} aria-labelledby="batch-title">
      <h2 id="batch-title">{t('batchCreate')}</h2>
      <label>
        {t('count')}
        <input name="count" type="number" min="1" max="1000" value="20" required />
      </label>
      <label>
        {t('namePrefix')}
        <input name="prefix" value="web" required pattern="[A-Za-z0-9_-]{1,20}" />
      </label>
      {select('user', 'user', opts?.users, 'user_name', 'user_name')}
      {select('image', 'image', opts?.images, 'id', 'image_name')}
      {select('strategy', 'strategy', opts?.strategies, 'desk_strategy_id', 'desk_strategy_name')}
      {select('network', 'network', opts?.networks, 'id', 'desk_network_name')}
      {error && <p class="error" role="alert">{error}</p>}
      <button type="submit" disabled={!opts}>{t('create')}</button>
    </form>
  );
}

// The desktop user's portal: their desks with state; start one and wait with a progress
// indicator until it runs; open its console.
import { useEffect, useState } from 'preact/hooks';
import { call } from '../api.js';
import { t, label, useLang } from '../i18n.js';

export function Portal() {
  useLang();
  const [desks, setDesks] = useState(null);
  const [starting, setStarting] = useState({}); // desk id → task status text
  const [error, setError] = useState('');

  const load = () =>
    call('POST', '/v1/portal/desktop/list', {})
      .then(setDesks)
      .catch((e) => setError(e.userTip || e.message));

  useEffect(() => {
    load();
    const id = setInterval(load, 4000);
    return () => clearInterval(id);
  }, []);

  async function start(d) {
    setStarting((s) => ({ ...s, [d.desktop_id]: 'RUNNING' }));
    try {
      const { task_id } = await call('PUT', `/v1/portal/desk/${encodeURIComponent(d.desktop_id)}:start`, {});
      for (;;) {
        const task = await call('GET', `/v1/portal/task/${encodeURIComponent(task_id)}/detail`);
        if (task.task_status !== 'RUNNING') {
          if (task.task_status === 'ERROR') setError(task.error_message || task.task_result);
          break;
        }
        await new Promise((r) => setTimeout(r, 500));
      }
    } catch (e) {
      setError(e.userTip || e.message);
    }
    setStarting((s) => ({ ...s, [d.desktop_id]: undefined }));
    load();
  }

  return (
    <section aria-labelledby="portal-title">
      <h1 id="portal-title">{t('myDesks')}</h1>
      {error && <p class="error" role="alert">{error}</p>}
      {!desks && <p>{t('loading')}</p>}
      {desks && !desks.length && <p>{t('noRows')}</p>}
      <ul class="desk-cards">
        {(desks || []).map((d) => (
          <li key={d.desktop_id} class="card desk-card" data-desk-id={d.desktop_id} data-state={d.desktop_state}>
            <h2>{d.desktop_name}</h2>
            <p>
              <span class={`badge s-${d.desktop_state}`}>{label('DeskState', d.desktop_state)}</span> · {label('OsName', d.os_name)} · {d.image_name}
            </p>
            {starting[d.desktop_id] ? (
              <p role="status" class="starting">
                <progress aria-label={t('starting')} /> {t('starting')}
              </p>
            ) : d.desktop_state === 'RUNNING' ? (
              <a class="button" href={`#/console/${encodeURIComponent(d.desktop_id)}`}>{t('open')}</a>
            ) : d.desktop_state === 'CLOSE' ? (
              <button type="button" onClick={() => start(d)}>{t('start')}</button>
            ) : null}
          </li>
        ))}
      </ul>
    </section>
  );
}

// The fleet at a glance: desks per state (6.1.2 totals), hosts up/down (the `up` series of
// the node exporters), the boot-storm guard's queue (BootQueue.jsx) beside the open task
// items, and the firing alerts.
import { useEffect, useState } from 'preact/hooks';
import { pageQuery, promGet } from '../api.js';
import { BootQueue } from './BootQueue.jsx';
import { t, label, useLang, ENUM_VALUES } from '../i18n.js';

async function load() {
  const states = ENUM_VALUES('DeskState');
  const totals = await Promise.all(
    states.map((s) => pageQuery('PUT', '/v1/desk:pagequery', { page: 0, limit: 1, match: [['deskState', [s]]] }).then((d) => d.total)),
  );
  const hosts = await pageQuery('PUT', '/v1/rccp/host:pagequery', { page: 0, limit: 1 }).then((d) => d.total);
  const q = (query) => promGet(`/api/v1/query?query=${encodeURIComponent(query)}`).then((d) => d.result).catch(() => []);
  const [up, queue, alerts] = await Promise.all([
    q('up{job="node"}'),
    q('deskd_task_items_open'),
    promGet('/api/v1/alerts').then((d) => d.alerts.filter((a) => a.state === 'firing')).catch(() => []),
  ]);
  const upCount = up.filter((r) => r.value[1] === '1').length;
  return {
    byState: states.map((s, i) => [s, totals[i]]).filter(([, n]) => n > 0),
    total: totals.reduce((a, b) => a + b, 0),
    hosts,
    up: upCount,
    down: up.length - upCount,
    queue: queue.length ? Number(queue[0].value[1]) : 0,
    alerts,
  };
}

export function Overview() {
  useLang();
  const [d, setD] = useState(null);
  const [error, setError] = useState('');
  useEffect(() => {
    let live = true;
    const run = () => load().then((x) => live && setD(x)).catch((e) => live && setError(e.userTip || e.message));
    run();
    const id = setInterval(run, 5000);
    return () => {
      live = false;
      clearInterval(id);
    };
  }, []);
  return (
    <section aria-labelledby="ov-title">
      <h1 id="ov-title">{t('overview')}</h1>
      {error && <p class="error" role="alert">{error}</p>}
      {!d ? (
        <p>{t('loading')}</p>
      ) : (
        <div class="tiles">
          <article class="card tile" aria-labelledby="ov-desks">
            <h2 id="ov-desks">{t('desksPerState')}</h2>
            <p class="big">{d.total}</p>
            <ul class="states">
              {d.byState.map(([s, n]) => (
                <li key={s} data-state={s}>
                  <span class={`badge s-${s}`}>{label('DeskState', s)}</span> <strong>{n}</strong>
                  <span class="bar" style={{ width: `${Math.max(2, (100 * n) / Math.max(1, d.total))}%` }} />
                </li>
              ))}
            </ul>
          </article>
          <article class="card tile" aria-labelledby="ov-hosts">
            <h2 id="ov-hosts">{t('hostsUpDown')}</h2>
            <p class="big">
              <span class="ok">{d.up}</span> {t('up')} / <span class={d.down ? 'bad' : ''}>{d.down}</span> {t('down')}
            </p>
            <p>{t('hosts')}: {d.hosts}</p>
          </article>
          <BootQueue openItems={d.queue} />
          <article class="card tile" aria-labelledby="ov-alerts">
            <h2 id="ov-alerts">{t('firingAlerts')}</h2>
            <p class="big">{d.alerts.length}</p>
            <ul>
              {d.alerts.slice(0, 10).map((a, i) => (
                <li key={i}>{a.labels.alertname} {a.labels.host_id || a.labels.instance || ''}</li>
              ))}
            </ul>
          </article>
        </div>
      )}
    </section>
  );
}

// The boot-storm guard's queue on the overview: desk starts waiting for a slot and starting,
// against the per-host and per-cluster limits (extension PUT /v1/rccp/compute/bootQueue), per
// cluster and for the busiest hosts. A storm comes and goes in seconds, so this tile asks
// every second, apart from the rest of the overview.
import { useEffect, useState } from 'preact/hooks';
import { call } from '../api.js';
import { t, useLang } from '../i18n.js';

const POLL_MS = 1000;
const HOSTS_SHOWN = 5;

function useBootQueue() {
  const [q, setQ] = useState(null);
  const [error, setError] = useState('');
  useEffect(() => {
    let live = true;
    let timer;
    const run = async () => {
      try {
        const d = await call('PUT', '/v1/rccp/compute/bootQueue', {});
        if (live) (setQ(d), setError(''));
      } catch (e) {
        if (live) setError(e.userTip || e.message);
      }
      if (live) timer = setTimeout(run, POLL_MS);
    };
    run();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, []);
  return [q, error];
}

/** Rows of waiting and starting starts, `limit` the slots each row may hold. */
function QueueTable({ caption, rows, name, limit }) {
  return (
    <table class="grid compact">
      <caption>{caption}</caption>
      <thead>
        <tr>
          <th scope="col">{t('name')}</th>
          <th scope="col">{t('waiting')}</th>
          <th scope="col">{t('startingSlots')}</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={r.id} data-id={r.id}>
            <td>{r[name] || r.id}</td>
            <td class="c-waiting">{r.waiting_num}</td>
            <td class="c-starting">
              {r.starting_num} / {limit}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function BootQueue({ openItems }) {
  useLang();
  const [q, error] = useBootQueue();
  const hosts = [...(q?.host_arr || [])]
    .sort((a, b) => b.waiting_num + b.starting_num - (a.waiting_num + a.starting_num))
    .slice(0, HOSTS_SHOWN);
  return (
    <article class="card tile boot-queue" aria-labelledby="ov-queue" data-waiting={q?.waiting_num} data-starting={q?.starting_num}>
      <h2 id="ov-queue">{t('bootQueue')}</h2>
      {error && <p class="error" role="alert">{error}</p>}
      {q && (
        <>
          <p class="big">
            <span class="waiting-num">{q.waiting_num}</span> <small>{t('waiting')}</small> ·{' '}
            <span class="starting-num">{q.starting_num}</span> <small>{t('startingNow')}</small>
          </p>
          <p class="limits">
            {t('bootLimits')}: {q.max_starts_per_host} {t('perHost')} · {q.max_starts_per_cluster} {t('perCluster')}
          </p>
          {q.cluster_arr.length > 0 && (
            <QueueTable
              caption={t('clusters')}
              rows={q.cluster_arr.map((c) => ({ ...c, id: c.cluster_id }))}
              name="cluster_name"
              limit={q.max_starts_per_cluster}
            />
          )}
          {hosts.length > 0 && (
            <QueueTable caption={t('busiestHosts')} rows={hosts.map((h) => ({ ...h, id: h.host_id }))} name="host_name" limit={q.max_starts_per_host} />
          )}
        </>
      )}
      <p class="hint">
        {t('openItems')}: <span class="open-items">{openItems}</span>
      </p>
    </article>
  );
}

// Per-host and fleet charts of CPU, memory, disk and network over the last hour, from the
// built-in PromQL API (`/api/v1/query_range`), drawn with uPlot (about 20 KB gzipped, loaded
// only when this screen opens).
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { useEffect, useRef, useState } from 'preact/hooks';
import { pageQuery, promRange } from '../api.js';
import { t, useLang } from '../i18n.js';

const HOUR = 3600;
const STEP = 30;

/** key → [label key, PromQL with $sel as the host selector, unit] */
const PANELS = {
  cpu: ['cpu', 'sum by (host_id) (rate(node_cpu_seconds_total{mode!="idle"$sel}[2m])) / count by (host_id) (node_cpu_seconds_total{mode="idle"$sel}) * 100', '%'],
  memory: ['memory', '(1 - sum by (host_id) (node_memory_MemAvailable_bytes{$sel0}) / sum by (host_id) (node_memory_MemTotal_bytes{$sel0})) * 100', '%'],
  disk: ['disk', '(1 - sum by (host_id) (node_filesystem_avail_bytes{$sel0}) / sum by (host_id) (node_filesystem_size_bytes{$sel0})) * 100', '%'],
  net: ['net', 'sum by (host_id) (rate(node_network_receive_bytes_total{$sel0}[2m]) + rate(node_network_transmit_bytes_total{$sel0}[2m]))', 'B/s'],
};

function query(expr, host) {
  const sel = host ? `host_id="${host.replace(/["\\]/g, '')}"` : '';
  return expr.replaceAll('$sel0', sel).replaceAll('$sel', sel ? `,${sel}` : '');
}

function Chart({ title, series, unit }) {
  const el = useRef(null);
  useEffect(() => {
    if (!el.current) return;
    const times = [...new Set(series.flatMap((s) => s.values.map((v) => v[0])))].sort((a, b) => a - b);
    const data = [times, ...series.map((s) => {
      const m = new Map(s.values.map(([ts, v]) => [ts, Number(v)]));
      return times.map((ts) => m.get(ts) ?? null);
    })];
    const colors = ['#1f6feb', '#d1242f', '#1a7f37', '#9a6700', '#8250df', '#0969da'];
    const plot = new uPlot(
      {
        width: Math.min(560, el.current.clientWidth || 560),
        height: 200,
        title,
        series: [{}, ...series.map((s, i) => ({ label: s.metric.host_id || 'fleet', stroke: colors[i % colors.length], value: (u, v) => (v == null ? '—' : `${v.toFixed(1)} ${unit}`) }))],
        axes: [{}, { values: (u, vs) => vs.map((v) => `${v}${unit === '%' ? '%' : ''}`) }],
      },
      data,
      el.current,
    );
    return () => plot.destroy();
  }, [series, title]);
  return <div class="chart card" ref={el} role="img" aria-label={title} />;
}

export default function Charts() {
  useLang();
  const [hosts, setHosts] = useState([]);
  const [host, setHost] = useState('');
  const [panels, setPanels] = useState(null);
  const [error, setError] = useState('');
  useEffect(() => {
    pageQuery('PUT', '/v1/rccp/host:pagequery', { page: 0, limit: 100 }).then((d) => setHosts(d.item_arr)).catch(() => {});
  }, []);
  useEffect(() => {
    const keys = Object.keys(PANELS);
    Promise.all(keys.map((k) => promRange(query(PANELS[k][1], host), HOUR, STEP)))
      .then((rs) => setPanels(keys.map((k, i) => [k, rs[i]])))
      .catch((e) => setError(e.message));
  }, [host]);
  return (
    <section aria-labelledby="charts-title">
      <h1 id="charts-title">{t('charts')}</h1>
      <label>
        {t('host')}
        <select value={host} onChange={(e) => setHost(e.currentTarget.value)}>
          <option value="">{t('fleet')}</option>
          {hosts.map((h) => (
            <option key={h.id} value={h.id}>{h.host_name}</option>
          ))}
        </select>
      </label>
      <p class="hint">{t('lastHour')}</p>
      {error && <p class="error" role="alert">{error}</p>}
      <div class="charts">
        {(panels || []).map(([k, series]) => (
          <Chart key={`${k}-${host}`} title={t(PANELS[k][0])} series={series} unit={PANELS[k][2]} />
        ))}
      </div>
    </section>
  );
}

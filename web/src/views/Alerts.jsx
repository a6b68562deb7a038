// The alerts of the built-in rules engine (`/api/v1/alerts`), pending and firing.
import { useEffect, useState } from 'preact/hooks';
import { promGet } from '../api.js';
import { t, useLang } from '../i18n.js';

export function Alerts() {
  useLang();
  const [alerts, setAlerts] = useState(null);
  const [error, setError] = useState('');
  useEffect(() => {
    promGet('/api/v1/alerts').then((d) => setAlerts(d.alerts)).catch((e) => setError(e.message));
  }, []);
  return (
    <section aria-labelledby="alerts-title">
      <h1 id="alerts-title">{t('alerts')}</h1>
      {error && <p class="error" role="alert">{error}</p>}
      <table class="grid">
        <thead>
          <tr>
            <th scope="col">{t('name')}</th>
            <th scope="col">{t('state')}</th>
            <th scope="col">{t('severity')}</th>
            <th scope="col">{t('summary')}</th>
            <th scope="col">{t('since')}</th>
          </tr>
        </thead>
        <tbody>
          {(alerts || []).map((a, i) => (
            <tr key={i}>
              <td>{a.labels.alertname}</td>
              <td>{a.state}</td>
              <td>{a.labels.severity || ''}</td>
              <td>{a.annotations?.summary || a.annotations?.description || JSON.stringify(a.labels)}</td>
              <td>{a.activeAt ? new Date(a.activeAt).toLocaleString() : ''}</td>
            </tr>
          ))}
          {alerts && !alerts.length && (
            <tr>
              <td colSpan={5}>{t('noRows')}</td>
            </tr>
          )}
        </tbody>
      </table>
    </section>
  );
}

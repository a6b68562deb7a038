import { useState } from 'preact/hooks';
import { signInOperator, signInUser } from '../api.js';
import { t } from '../i18n.js';

/** The first screen: user name, password, and which kind of account signs in. */
export function Login() {
  const [kind, setKind] = useState('operator');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  async function submit(e) {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    setBusy(true);
    setError('');
    try {
      const name = String(f.get('user_name') || '').trim();
      const pw = String(f.get('password') || '');
      if (kind === 'operator') await signInOperator(name, pw);
      else await signInUser(name, pw);
      location.hash = kind === 'operator' ? '#/overview' : '#/';
    } catch (err) {
      setError(err.userTip || err.message);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form class="card login" onSubmit={submit} aria-labelledby="login-title">
      <h1 id="login-title">{t('signIn')}</h1>
      <fieldset class="kinds">
        <legend>{t('accountKind')}</legend>
        {['operator', 'desktopUser'].map((k) => (
          <label key={k}>
            <input type="radio" name="kind" value={k} checked={kind === k} onChange={() => setKind(k)} />
            {t(k)}
          </label>
        ))}
      </fieldset>
      <label>
        {t('userName')}
        <input name="user_name" id="user_name" autocomplete="username" required />
      </label>
      <label>
        {t('password')}
        <input name="password" id="password" type="password" autocomplete="current-password" />
      </label>
      {error && <p class="error" role="alert">{t('signInFailed')}: {error}</p>}
      <button type="submit" disabled={busy}>{t('signIn')}</button>
    </form>
  );
}

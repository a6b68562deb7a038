// Editing one desktop user (6.2.6, asynchronous), changing their password (6.2.9) and an
// operator's reset of it. 6.2.6 clears description, phone and e-mail when they are absent, so
// the form always sends the values it shows, read first from the user's detail (6.2.16).
// 6.2.9, the document's only password endpoint, needs the current password; the reset uses
// deskd's extension PUT /v1/user/modify:resetPassword, which needs only the API token.
import { useEffect, useRef, useState } from 'preact/hooks';
import { call } from '../api.js';
import { t, getLang, useLang } from '../i18n.js';
import { track } from './Tasks.jsx';
import { fieldOf } from './ResourceForm.jsx';

/** [field, label key, input type, input mode]: the server checks phone and e-mail, so the
 * browser's own checks (type=email) do not stand between the user and its message. */
const EDIT_FIELDS = [
  ['real_name', 'realName', 'text'],
  ['description', 'description', 'text'],
  ['phone_num', 'phone', 'text', 'tel'],
  ['email', 'email', 'text', 'email'],
  ['account_expire_date', 'expires', 'date'],
  ['invalid_time', 'invalidDays', 'number'],
];

/** Epoch milliseconds ↔ the yyyy-mm-dd of a date input (local day; 0 or none is empty). */
const toDay = (ms) => (Number(ms) > 0 ? new Date(Number(ms) - new Date().getTimezoneOffset() * 60000).toISOString().slice(0, 10) : '');
const fromDay = (day) => (day ? new Date(`${day}T23:59:59`).getTime() : 0);

/** Brings a form just opened into view (it opens above a long table). */
function useShown() {
  const ref = useRef(null);
  useEffect(() => ref.current?.scrollIntoView?.({ block: 'nearest' }), []);
  return ref;
}

/** An API error as {text, tip, field} for a form whose inputs are `fields`. */
const refusal = (err, fields) => ({ text: err.message, tip: err.userTip, field: fieldOf(err.message, fields) });

function ErrorLine({ error, id, fields }) {
  if (!error) return null;
  const f = fields.find((x) => x[0] === error.field);
  return (
    <p class="error" role="alert" id={id} data-field={error.field}>
      {f ? `${t(f[1])}: ` : ''}
      {(getLang() === 'zh-CN' && error.tip) || error.text}
    </p>
  );
}

export function UserEdit({ user, onDone, onCancel }) {
  useLang();
  const [detail, setDetail] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const self = useShown();
  useEffect(() => {
    call('POST', '/v1/user/detail', { userId: user.id, userName: user.user_name })
      .then((d) =>
        setDetail({
          ...d,
          real_name: d.real_name ?? d.display_name ?? user.real_name,
          description: d.user_description ?? d.description,
          account_expire_date: d.account_expire_time,
        }),
      )
      .catch((e) => setError(refusal(e, EDIT_FIELDS)));
  }, [user]);

  async function submit(e) {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    const text = (k) => String(f.get(k) ?? '').trim();
    setBusy(true);
    try {
      const d = await call('POST', '/v1/user/edit', {
        user_name: user.user_name,
        real_name: text('real_name'),
        description: text('description') || null,
        phone_num: text('phone_num') || null,
        email: text('email') || null,
        account_expire_date: fromDay(text('account_expire_date')),
        invalid_time: Number(text('invalid_time') || 0),
      });
      const end = await track(d.task_id, `${t('editUser')} ${user.user_name}`);
      const failed = end?.task_item_list?.find((i) => i.item_biz_status === 'FAILURE');
      if (failed) setError(refusal(new Error(failed.item_result), EDIT_FIELDS));
      else onDone?.();
    } catch (err) {
      setError(refusal(err, EDIT_FIELDS));
    } finally {
      setBusy(false);
    }
  }

  const value = (k, kind) => (kind === 'date' ? toDay(detail?.[k]) : String(detail?.[k] ?? (kind === 'number' ? 0 : '')));
  return (
    <form ref={self} class="card user-edit" onSubmit={submit} aria-labelledby="ue-title">
      <h2 id="ue-title">{t('editUser')}: {user.user_name}</h2>
      {detail &&
        EDIT_FIELDS.map(([k, key, kind, inputMode]) => (
          <label key={k}>
            {t(key)}
            <input
              name={k}
              type={kind}
              inputMode={inputMode}
              min={kind === 'number' ? 0 : undefined}
              defaultValue={value(k, kind)}
              aria-invalid={error?.field === k ? 'true' : undefined}
              aria-describedby={error?.field === k ? 'ue-error' : undefined}
            />
          </label>
        ))}
      <ErrorLine error={error} id="ue-error" fields={EDIT_FIELDS} />
      <div class="toolbar">
        <button type="submit" disabled={!detail || busy}>{t('save')}</button>
        <button type="button" class="ghost" onClick={onCancel}>{t('cancel')}</button>
      </div>
    </form>
  );
}

const PASSWORD_FIELDS = [
  ['old_password', 'oldPassword'],
  ['new_password', 'newPassword'],
];

export function UserPassword({ user, onCancel }) {
  useLang();
  const [error, setError] = useState(null);
  const [done, setDone] = useState(false);
  const [busy, setBusy] = useState(false);
  const self = useShown();

  async function submit(e) {
    e.preventDefault();
    const form = e.currentTarget;
    const f = new FormData(form);
    setDone(false);
    if (f.get('new_password') !== f.get('confirm')) {
      setError({ text: t('passwordMismatch'), field: 'new_password' });
      return;
    }
    setBusy(true);
    try {
      const d = await call('PUT', '/v1/user/modify:password', {
        user_name: user.user_name,
        old_password: String(f.get('old_password')),
        new_password: String(f.get('new_password')),
      });
      if (d.business_code === 0) {
        setError(null);
        setDone(true);
        form.reset();
      } else if (d.remaining_times != null) {
        setError({ text: `${t('wrongOldPassword')}: ${d.remaining_times}`, field: 'old_password' });
      } else {
        setError({ text: `${t('userLocked')}: ${d.pwd_lock_time ?? '?'}`, field: 'old_password' });
      }
    } catch (err) {
      setError(refusal(err, PASSWORD_FIELDS));
    } finally {
      setBusy(false);
    }
  }

  const input = (name, key, auto) => (
    <label>
      {t(key)}
      <input
        name={name}
        type="password"
        autocomplete={auto}
        required
        aria-invalid={error?.field === name ? 'true' : undefined}
        aria-describedby={error?.field === name ? 'pw-error' : undefined}
      />
    </label>
  );
  return (
    <form ref={self} class="card user-password" onSubmit={submit} aria-labelledby="pw-title">
      <h2 id="pw-title">{t('changePassword')}: {user.user_name}</h2>
      <p class="hint">{t('changePasswordHelp')}</p>
      {/* a hidden user name lets password managers file the new password under the right account */}
      <input type="text" name="username" autocomplete="username" value={user.user_name} hidden readOnly />
      {input('old_password', 'oldPassword', 'current-password')}
      {input('new_password', 'newPassword', 'new-password')}
      {input('confirm', 'confirmPassword', 'new-password')}
      <ErrorLine error={error} id="pw-error" fields={PASSWORD_FIELDS} />
      {done && <p role="status" class="saved">{t('passwordChanged')}</p>}
      <div class="toolbar">
        <button type="submit" disabled={busy}>{t('changePassword')}</button>
        <button type="button" class="ghost" onClick={onCancel}>{t('cancel')}</button>
      </div>
    </form>
  );
}

const RESET_FIELDS = [['new_password', 'newPassword']];

/** An operator sets a new password without the current one (extension); the server checks it
 * against the password policy and refuses AD and LDAP users. */
export function UserReset({ user, onCancel }) {
  useLang();
  const [error, setError] = useState(null);
  const [done, setDone] = useState(false);
  const [busy, setBusy] = useState(false);
  const self = useShown();

  async function submit(e) {
    e.preventDefault();
    const form = e.currentTarget;
    const f = new FormData(form);
    setDone(false);
    if (f.get('new_password') !== f.get('confirm')) {
      setError({ text: t('passwordMismatch'), field: 'new_password' });
      return;
    }
    setBusy(true);
    try {
      await call('PUT', '/v1/user/modify:resetPassword', {
        user_name: user.user_name,
        new_password: String(f.get('new_password')),
      });
      setError(null);
      setDone(true);
      form.reset();
    } catch (err) {
      setError(refusal(err, RESET_FIELDS));
    } finally {
      setBusy(false);
    }
  }

  const bad = error?.field === 'new_password';
  return (
    <form ref={self} class="card user-reset" onSubmit={submit} aria-labelledby="rp-title">
      <h2 id="rp-title">{t('resetPassword')}: {user.user_name}</h2>
      <p class="hint">{t('resetPasswordHelp')}</p>
      <input type="text" name="username" autocomplete="username" value={user.user_name} hidden readOnly />
      <label>
        {t('newPassword')}
        <input name="new_password" type="password" autocomplete="new-password" required aria-invalid={bad ? 'true' : undefined} aria-describedby={bad ? 'rp-error' : undefined} />
      </label>
      <label>
        {t('confirmPassword')}
        <input name="confirm" type="password" autocomplete="new-password" required />
      </label>
      <ErrorLine error={error} id="rp-error" fields={RESET_FIELDS} />
      {done && <p role="status" class="saved">{t('passwordReset')}</p>}
      <div class="toolbar">
        <button type="submit" disabled={busy}>{t('resetPassword')}</button>
        <button type="button" class="ghost" onClick={onCancel}>{t('cancel')}</button>
      </div>
    </form>
  );
}

// Deleting one catalogue or fleet record through its delete extension (DECISIONS D10), after a
// confirmation in a modal <dialog> (focus stays inside, Escape cancels, Cancel has the focus).
// A refusal (an image desks still use, a cluster with desks) stays in the dialog with the
// server's code and its message, which names what still uses the record (the Chinese tip of
// these refusals is a generic "operation failed"); an accepted delete closes it, and a delete
// that answers a task (images, clusters) is followed in the task panel.
import { useEffect, useRef, useState } from 'preact/hooks';
import { call } from '../api.js';
import { t, useLang } from '../i18n.js';

/** kind → its delete extension; the body is `{"id": …}`. */
export const DELETES = {
  images: '/v1/image/delete',
  osFiles: '/v1/osFile/delete',
  strategies: '/v1/desk_strategy/delete',
  networks: '/v1/desk_network/delete',
  clusters: '/v1/rccp/cluster/delete',
  hosts: '/v1/rccp/host/delete',
  pools: '/v1/rccp/storage_pool/delete',
};

/** Asks before deleting `id` (shown as `name`) of `kind`; `onDeleted(taskId?)` once accepted. */
export function ConfirmDelete({ kind, id, name, onDeleted, onClose }) {
  useLang();
  const dialog = useRef(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    const d = dialog.current;
    if (d && !d.open) d.showModal?.();
    return () => d?.open && d.close();
  }, []);

  async function remove() {
    setBusy(true);
    try {
      const d = await call('POST', DELETES[kind], { id });
      onDeleted(d?.task_id);
    } catch (e) {
      setError(e);
      setBusy(false);
    }
  }

  return (
    <dialog ref={dialog} class="card confirm" aria-labelledby="del-title" aria-describedby="del-text" onCancel={onClose} data-kind={kind}>
      <h2 id="del-title">{t('confirmDelete')} · {t(kind)}</h2>
      <p id="del-text">
        {t('deleteWhat')} <strong class="del-name">{name}</strong>?
      </p>
      {error && (
        <div class="error refusal" role="alert" data-code={error.code}>
          <strong>
            {t('deleteRefused')} ({error.code})
          </strong>
          <p class="message">{error.message}</p>
        </div>
      )}
      <div class="toolbar">
        {!error && (
          <button type="button" class="danger" disabled={busy} onClick={remove}>
            {busy ? t('deleting') : t('delete')}
          </button>
        )}
        <button type="button" class="ghost" autofocus onClick={onClose}>
          {error ? t('dismiss') : t('cancel')}
        </button>
      </div>
    </dialog>
  );
}

// Every task the console starts, with a live progress bar of its items (done / failed / total)
// until it ends, then its per-item results. Tasks are polled from the task-detail endpoint.
import { useEffect, useState } from 'preact/hooks';
import { call } from '../api.js';
import { t, label, useLang } from '../i18n.js';

const POLL_MS = 500;
let tasks = []; // { id, title, detail, path, error }
const subs = new Set();
const notify = () => subs.forEach((f) => f([...tasks]));

/** Follows task `id` until it ends; `path` is where its detail is read. Answers the last
 * detail read (undefined when reading failed), for a form that waits for its task. */
export function track(id, title, path = `/v1/task/${encodeURIComponent(id)}/detail`) {
  tasks = [{ id, title, detail: null, path }, ...tasks];
  notify();
  return poll(id);
}

async function poll(id) {
  for (;;) {
    const task = tasks.find((x) => x.id === id);
    if (!task) return undefined;
    try {
      task.detail = await call('PUT', task.path, {});
    } catch (e) {
      task.error = e.userTip || e.message;
      notify();
      return undefined;
    }
    notify();
    if (task.detail.task_status !== 'RUNNING') return task.detail;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

export function useTasks() {
  const [list, set] = useState(tasks);
  useEffect(() => {
    subs.add(set);
    return () => subs.delete(set);
  }, []);
  return list;
}

/** Counts of a task's items. */
export function counts(detail) {
  const items = detail?.task_item_list || [];
  const done = items.filter((i) => i.item_biz_status === 'SUCCESS').length;
  const failed = items.filter((i) => i.item_biz_status === 'FAILURE').length;
  return { done, failed, total: items.length };
}

export function TaskProgress({ task }) {
  useLang();
  const d = task.detail;
  const { done, failed, total } = counts(d);
  const status = d ? d.task_status : 'RUNNING';
  return (
    <section class="task" aria-label={`${t('task')} ${task.title}`} data-task-id={task.id} data-status={status}>
      <header>
        <strong>{task.title}</strong>
        <span class={`badge s-${status}`}>{label('TaskStatus', status)}</span>
        <button type="button" class="ghost small" onClick={() => { tasks = tasks.filter((x) => x.id !== task.id); notify(); }}>
          {t('dismiss')}
        </button>
      </header>
      <progress max={total || 1} value={done + failed} aria-label={`${t('progress')} ${task.title}`} />
      <p class="counts">
        <span class="done-count">{done}</span> {t('done')} · <span class="failed-count">{failed}</span> {t('failed')} ·{' '}
        <span class="total-count">{total}</span> {t('total')}
      </p>
      {task.error && <p class="error" role="alert">{task.error}</p>}
      {d && status !== 'RUNNING' && (
        <details open={total <= 25}>
          <summary>{t('results')} ({d.task_result})</summary>
          <ol class="results" tabIndex={0} aria-label={`${t('results')} ${task.title}`}>
            {d.task_item_list.map((i) => (
              <li key={i.id} class={`r-${i.item_biz_status}`}>
                <code>{i.id}</code> {label('ItemBizStatus', i.item_biz_status)} — {i.item_result}
              </li>
            ))}
          </ol>
        </details>
      )}
    </section>
  );
}

/** The side panel of the operator console. */
export function TaskPanel() {
  useLang();
  const list = useTasks();
  if (!list.length) return null;
  return (
    <aside class="tasks" aria-label={t('tasks')}>
      <h2>{t('tasks')}</h2>
      {list.map((task) => (
        <TaskProgress key={task.id} task={task} />
      ))}
    </aside>
  );
}

// Previous / next over a server-paged listing of `total` rows, `limit` a page.
import { t } from '../i18n.js';

export function Pager({ page, limit, total, onPage }) {
  const pages = total == null ? 1 : Math.max(1, Math.ceil(total / limit));
  return (
    <nav class="pager" aria-label={t('page')}>
      <button type="button" disabled={page === 0} onClick={() => onPage(page - 1)}>{t('prev')}</button>
      <span>{t('page')} {page + 1} / {pages} · {t('total')} {total ?? '…'}</span>
      <button type="button" disabled={page + 1 >= pages} onClick={() => onPage(page + 1)}>{t('next')}</button>
    </nav>
  );
}

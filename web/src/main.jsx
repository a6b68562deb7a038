// The single page: the sign-in form, then the operator console or the desktop-user portal.
// Screens are chosen by the URL fragment (#/desks), so the server serves one page only.
import { render } from 'preact';
import { lazy, Suspense } from 'preact/compat';
import { useEffect, useState } from 'preact/hooks';
import './style.css';
import { getSession, onSession, signOut } from './api.js';
import { t, useLang, setLang, getLang } from './i18n.js';
import { Login } from './views/Login.jsx';
import { Overview } from './views/Overview.jsx';
import { Desks } from './views/Desks.jsx';
import { TaskPanel } from './views/Tasks.jsx';
import { Users } from './views/Users.jsx';
import { Catalog, CATALOG } from './views/Catalog.jsx';
import { Alerts } from './views/Alerts.jsx';
import { Portal } from './views/Portal.jsx';

// Loaded on demand, so the first screen does not carry noVNC or the chart library.
const Console = lazy(() => import('./views/Console.jsx'));
const Charts = lazy(() => import('./views/Charts.jsx'));

function useHash() {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const f = () => setHash(location.hash);
    addEventListener('hashchange', f);
    return () => removeEventListener('hashchange', f);
  }, []);
  return hash.replace(/^#\/?/, '');
}

function useSession() {
  const [s, set] = useState(getSession());
  useEffect(() => onSession(set), []);
  return s;
}

function LangSwitch() {
  useLang();
  return (
    <label class="lang">
      <span class="sr-only">{t('language')}</span>
      <select aria-label={t('language')} value={getLang()} onChange={(e) => setLang(e.currentTarget.value)}>
        <option value="zh-CN">中文</option>
        <option value="en">English</option>
      </select>
    </label>
  );
}

const OPERATOR_NAV = [
  ['overview', 'overview'],
  ['desks', 'desks'],
  ['users', 'users'],
  ...Object.keys(CATALOG).map((k) => [k, k]),
  ['charts', 'charts'],
  ['alerts', 'alerts'],
];

function Header({ session }) {
  return (
    <header class="top">
      <span class="brand">{t('appName')}</span>
      <span class="who">{session ? `${session.name} · ${t(session.kind === 'operator' ? 'operator' : 'desktopUser')}` : ''}</span>
      <LangSwitch />
      {session && (
        <button type="button" class="ghost" onClick={() => { signOut(); location.hash = ''; }}>
          {t('signOut')}
        </button>
      )}
    </header>
  );
}

function OperatorScreen({ route }) {
  const [page, ...rest] = route.split('/');
  const current = page || 'overview';
  let body;
  if (current === 'overview') body = <Overview />;
  else if (current === 'desks') body = <Desks />;
  else if (current === 'users') body = <Users />;
  else if (CATALOG[current]) body = <Catalog kind={current} />;
  else if (current === 'charts') body = <Charts />;
  else if (current === 'alerts') body = <Alerts />;
  else if (current === 'console') body = <Console deskId={decodeURIComponent(rest.join('/'))} />;
  else body = <Overview />;
  return (
    <div class="shell">
      <nav class="side" aria-label={t('appName')}>
        <ul>
          {OPERATOR_NAV.map(([k, label]) => (
            <li key={k}>
              <a href={`#/${k}`} aria-current={current === k ? 'page' : undefined}>{t(label)}</a>
            </li>
          ))}
        </ul>
      </nav>
      <main class="content">
        <Suspense fallback={<p>{t('loading')}</p>}>{body}</Suspense>
      </main>
      <TaskPanel />
    </div>
  );
}

function UserScreen({ route }) {
  const [page, ...rest] = route.split('/');
  return (
    <main class="content portal">
      <Suspense fallback={<p>{t('loading')}</p>}>
        {page === 'console' ? <Console deskId={decodeURIComponent(rest.join('/'))} portal /> : <Portal />}
      </Suspense>
    </main>
  );
}

function App() {
  useLang();
  const session = useSession();
  const route = useHash();
  return (
    <>
      <Header session={session} />
      {!session && <main class="content"><Login /></main>}
      {session?.kind === 'operator' && <OperatorScreen route={route} />}
      {session?.kind === 'user' && <UserScreen route={route} />}
    </>
  );
}

render(<App />, document.getElementById('app'));

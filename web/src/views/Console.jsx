// A desk's screen in the browser: noVNC's RFB client on deskd's console ticket + websocket.
// Keyboard and mouse go to the desk once the screen has focus; the toolbar sends
// Ctrl-Alt-Del, toggles scaling and full screen, exchanges the clipboard, and reconnects.
// A dropped connection is retried with a fresh ticket (tickets are single-use).
import RFB from '@novnc/novnc';
import { useEffect, useRef, useState } from 'preact/hooks';
import { call } from '../api.js';
import { t, useLang } from '../i18n.js';

const RETRIES = 5;

export default function Console({ deskId, portal }) {
  useLang();
  const screen = useRef(null);
  const rfb = useRef(null);
  const [status, setStatus] = useState('connecting');
  const [why, setWhy] = useState('');
  const [scale, setScale] = useState(true);
  const [clip, setClip] = useState('');
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    let closed = false;
    let retry = null;
    let everConnected = false;
    let tries = 0;

    async function connect() {
      setStatus(tries ? 'reconnecting' : 'connecting');
      let ticket;
      try {
        const path = portal
          ? `/v1/portal/desk/${encodeURIComponent(deskId)}/console`
          : `/v1/desk/${encodeURIComponent(deskId)}/console`;
        ticket = await call('PUT', path, {});
      } catch (e) {
        setStatus('none');
        setWhy(e.code === 23010901 || /state/i.test(e.message) ? t('notRunning') : e.userTip || e.message);
        return;
      }
      if (closed) return;
      const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
      const r = new RFB(screen.current, `${scheme}://${location.host}${ticket.websocket_path}`, { wsProtocols: ['binary'] });
      r.scaleViewport = scale;
      r.focusOnClick = true;
      r.addEventListener('connect', () => {
        everConnected = true;
        tries = 0;
        setStatus('connected');
        setWhy('');
        r.focus();
      });
      r.addEventListener('disconnect', (ev) => {
        rfb.current = null;
        if (closed) return;
        if (ev.detail.clean) {
          setStatus('disconnected');
        } else if (tries < RETRIES) {
          tries += 1;
          setStatus('reconnecting');
          retry = setTimeout(connect, Math.min(8000, 500 * 2 ** tries));
        } else {
          setStatus(everConnected ? 'disconnected' : 'none');
          if (!everConnected) setWhy(t('noConsole'));
        }
      });
      r.addEventListener('clipboard', (ev) => setClip(ev.detail.text));
      r.addEventListener('desktopname', (ev) => (document.title = `${ev.detail.name} — deskd`));
      rfb.current = r;
    }

    connect();
    return () => {
      closed = true;
      clearTimeout(retry);
      rfb.current?.disconnect();
      rfb.current = null;
    };
  }, [deskId, attempt]);

  useEffect(() => {
    if (rfb.current) rfb.current.scaleViewport = scale;
  }, [scale]);

  const back = portal ? '#/' : '#/desks';
  return (
    <section class="console" aria-labelledby="console-title">
      <div class="toolbar" role="toolbar" aria-label={t('console')}>
        <h1 id="console-title" class="inline">{t('console')}: <code>{deskId}</code></h1>
        <span class={`conn conn-${status}`} role="status">{t(status === 'none' ? 'noConsole' : status)}</span>
        <button type="button" onClick={() => rfb.current?.sendCtrlAltDel()} disabled={status !== 'connected'}>{t('ctrlAltDel')}</button>
        <button type="button" onClick={() => screen.current?.requestFullscreen?.()} disabled={status !== 'connected'}>{t('fullScreen')}</button>
        <label><input type="checkbox" checked={scale} onChange={(e) => setScale(e.currentTarget.checked)} /> {t('scale')}</label>
        <button type="button" onClick={() => setAttempt((x) => x + 1)}>{t('reconnect')}</button>
        <a href={back}>{t('back')}</a>
      </div>
      {why && <p class="error" role="alert">{why}</p>}
      <div class="screen" ref={screen} data-status={status} />
      <details class="clip">
        <summary>{t('clipboard')}</summary>
        <label>
          <span class="sr-only">{t('clipboard')}</span>
          <textarea rows={3} value={clip} onInput={(e) => setClip(e.currentTarget.value)} />
        </label>
        <button type="button" onClick={() => rfb.current?.clipboardPasteFrom(clip)} disabled={status !== 'connected'}>{t('sendClipboard')}</button>
      </details>
    </section>
  );
}

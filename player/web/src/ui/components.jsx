// Building blocks every page uses: cards, fields, buttons that cannot be pressed twice,
// notices, copy buttons, tabs, a confirm step for destructive actions, a line chart.
import { createContext } from 'preact';
import { useContext, useState, useRef, useEffect, useCallback } from 'preact/hooks';

const ToastContext = createContext(() => {});

export function ToastProvider({ children }) {
  const [items, setItems] = useState([]);
  const push = useCallback((text, kind = 'ok') => {
    const id = Math.random();
    setItems((xs) => [...xs, { id, text, kind }]);
    setTimeout(() => setItems((xs) => xs.filter((x) => x.id !== id)), kind === 'error' ? 8000 : 4000);
  }, []);
  return (
    <ToastContext.Provider value={push}>
      {children}
      <div class="toasts" role="status" aria-live="polite">
        {items.map((t) => <div key={t.id} class={`toast toast-${t.kind}`}>{t.text}</div>)}
      </div>
    </ToastContext.Provider>
  );
}

export const useToast = () => useContext(ToastContext);

/** Runs `fn` once at a time: a second click while it runs does nothing (no double submits). */
export function useBusy() {
  const [busy, setBusy] = useState(false);
  const running = useRef(false);
  const run = useCallback(async (fn) => {
    if (running.current) return undefined;
    running.current = true;
    setBusy(true);
    try { return await fn(); } finally { running.current = false; setBusy(false); }
  }, []);
  return [busy, run];
}

/**
 * A form whose submit calls `onSubmit(values)`; errors from the API show above the buttons
 * in the user's words, and the form cannot be sent twice while one send is in flight.
 */
export function Form({ onSubmit, children, submit = 'Save', class: cls = '', reset = false, extra = null }) {
  const [busy, run] = useBusy();
  const [error, setError] = useState(null);
  const onsubmit = (e) => {
    e.preventDefault();
    const form = e.currentTarget;
    const values = Object.fromEntries(new FormData(form).entries());
    for (const box of form.querySelectorAll('input[type=checkbox][name]')) values[box.name] = box.checked;
    run(async () => {
      setError(null);
      try {
        await onSubmit(values, form);
        if (reset) form.reset();
      } catch (err) {
        setError(err.message || String(err));
      }
    });
  };
  return (
    <form class={`form ${cls}`} onSubmit={onsubmit} noValidate={false}>
      {children}
      {error && <p class="form-error" role="alert">{error}</p>}
      <div class="form-actions">
        <button class="btn primary" type="submit" disabled={busy} aria-busy={busy}>{busy ? 'Working…' : submit}</button>
        {extra}
      </div>
    </form>
  );
}

export function Field({ label, hint, children }) {
  return (
    <label class="field">
      <span class="field-label">{label}</span>
      {children}
      {hint && <span class="field-hint">{hint}</span>}
    </label>
  );
}

/** A button that runs an async action once at a time and reports failures as a toast. */
export function Action({ onClick, children, class: cls = 'btn', title, done, disabled }) {
  const [busy, run] = useBusy();
  const toast = useToast();
  return (
    <button type="button" class={cls} title={title} disabled={busy || disabled} aria-busy={busy}
      onClick={() => run(async () => {
        try {
          await onClick();
          if (done) toast(done);
        } catch (e) {
          toast(e.message || String(e), 'error');
        }
      })}>
      {children}
    </button>
  );
}

/** A destructive action asks once more inline ("Delete? Yes / No"). */
export function Confirm({ onConfirm, children, question = 'Are you sure?', label = 'Yes', done }) {
  const [asking, setAsking] = useState(false);
  if (!asking) return <button type="button" class="btn danger-outline" onClick={() => setAsking(true)}>{children}</button>;
  return (
    <span class="confirm" role="group" aria-label={question}>
      <span>{question}</span>
      <Action class="btn danger" onClick={async () => { await onConfirm(); setAsking(false); }} done={done}>{label}</Action>
      <button type="button" class="btn" onClick={() => setAsking(false)}>No</button>
    </span>
  );
}

export function Card({ title, actions, children, class: cls = '' }) {
  return (
    <section class={`card ${cls}`}>
      {(title || actions) && (
        <header class="card-head">
          {title && <h2>{title}</h2>}
          {actions && <div class="card-actions">{actions}</div>}
        </header>
      )}
      {children}
    </section>
  );
}

export function Stat({ label, value, sub }) {
  return (
    <div class="stat">
      <div class="stat-value">{value}</div>
      <div class="stat-label">{label}</div>
      {sub && <div class="stat-sub">{sub}</div>}
    </div>
  );
}

export function Badge({ kind = 'muted', children }) {
  return <span class={`badge badge-${kind}`}>{children}</span>;
}

/** What listeners get: a service's `on_air` (`live`, `relay`, `autodj`, `offline`). */
export function LiveBadge({ onAir, suspended }) {
  if (suspended) return <Badge kind="warn">Suspended</Badge>;
  switch (onAir) {
    case 'live': return <Badge kind="live">● Live</Badge>;
    case 'relay': return <Badge kind="live">● Relay</Badge>;
    case 'autodj': return <Badge kind="live">● AutoDJ</Badge>;
    default: return <Badge>Offline</Badge>;
  }
}

export function Empty({ children }) {
  return <p class="empty">{children}</p>;
}

export function ErrorBox({ error }) {
  if (!error) return null;
  return <p class="error-box" role="alert">{error.message || String(error)}</p>;
}

/** A value with a copy button (publish credentials, URLs, embed code). */
export function Copy({ value, label, secret = false, multiline = false }) {
  const [shown, setShown] = useState(!secret);
  const [copied, setCopied] = useState(false);
  const ref = useRef(null);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(value);
    } catch {
      // Clipboard API needs a secure context; select the text so Ctrl+C works.
      setShown(true);
      setTimeout(() => ref.current && ref.current.select(), 0);
      return;
    }
    setCopied(true);
    setTimeout(() => setCopied(false), 1500);
  };
  const Input = multiline ? 'textarea' : 'input';
  return (
    <div class="copy">
      {label && <span class="copy-label">{label}</span>}
      <Input ref={ref} class="copy-value" readOnly value={shown ? value : '•'.repeat(16)} aria-label={label}
        rows={multiline ? 3 : undefined} onFocus={(e) => shown && e.currentTarget.select()} />
      {secret && <button type="button" class="btn small" onClick={() => setShown(!shown)}>{shown ? 'Hide' : 'Show'}</button>}
      <button type="button" class="btn small" onClick={copy} aria-label={`Copy ${label || ''}`.trim()}>{copied ? 'Copied' : 'Copy'}</button>
    </div>
  );
}

export function Tabs({ base, tabs, current }) {
  return (
    <nav class="tabs" aria-label="Sections">
      {tabs.map(([key, label]) => (
        <a key={key} href={`#${base}/${key}`} class={key === current ? 'tab active' : 'tab'} aria-current={key === current ? 'page' : undefined}>{label}</a>
      ))}
    </nav>
  );
}

/** Loads `load()` on mount and whenever `deps` change; `reload()` loads again. */
export function useLoad(load, deps = []) {
  const [state, setState] = useState({ data: null, error: null, loading: true });
  const [n, setN] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => live && setState({ data, error: null, loading: false }),
      (error) => live && setState({ data: null, error, loading: false }),
    );
    return () => { live = false; };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, n]);
  return { ...state, reload: () => setN((x) => x + 1) };
}

/** Calls `fn` every `ms` while the tab is visible. */
export function useInterval(fn, ms) {
  const saved = useRef(fn);
  saved.current = fn;
  useEffect(() => {
    const id = setInterval(() => { if (!document.hidden) saved.current(); }, ms);
    return () => clearInterval(id);
  }, [ms]);
}

/** A small SVG line chart of `points` ([{t, v}]), labelled for screen readers by `label`. */
export function LineChart({ points, label, height = 160 }) {
  const width = 600;
  if (!points.length) return <Empty>No data yet.</Empty>;
  const max = Math.max(1, ...points.map((p) => p.v));
  const t0 = points[0].t;
  const t1 = points[points.length - 1].t || t0 + 1;
  const x = (t) => ((t - t0) / Math.max(1, t1 - t0)) * (width - 40) + 30;
  const y = (v) => height - 20 - (v / max) * (height - 30);
  const d = points.map((p, i) => `${i ? 'L' : 'M'}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(' ');
  const area = `${d} L${x(t1).toFixed(1)},${height - 20} L${x(t0).toFixed(1)},${height - 20} Z`;
  const fmt = (t) => new Date(t * 1000).toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
  return (
    <svg class="chart" viewBox={`0 0 ${width} ${height}`} role="img" aria-label={`${label}: peak ${max}`}>
      <line x1="30" y1={height - 20} x2={width - 10} y2={height - 20} class="axis" />
      <text x="0" y={y(max) + 4} class="tick">{max}</text>
      <text x="0" y={height - 16} class="tick">0</text>
      <path d={area} class="area" />
      <path d={d} class="line" />
      <text x="30" y={height - 4} class="tick">{fmt(t0)}</text>
      <text x={width - 10} y={height - 4} class="tick" text-anchor="end">{fmt(t1)}</text>
    </svg>
  );
}

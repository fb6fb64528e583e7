// Statistics reports of one service: a range, the figures, the tables, and a CSV file of
// each report (the same API the billing and reporting tools call).
import { useState } from 'preact/hooks';
import { get } from '../../api.js';
import { Card, Stat, Empty, ErrorBox, LineChart, useLoad } from '../../components.jsx';
import { bytes, duration } from '../../format.js';

const RANGES = [['7d', 'Last 7 days', 7, 3600], ['30d', 'Last 30 days', 30, 6 * 3600], ['90d', 'Last 90 days', 90, 86400], ['365d', 'Last year', 365, 86400]];

export function Stats({ service: s }) {
  const [range, setRange] = useState('30d');
  const [, , days, step] = RANGES.find((r) => r[0] === range);
  // Whole hours, so the figures and the files match the hourly statistics exactly.
  const to = Math.ceil(Date.now() / 3_600_000) * 3600;
  const from = to - days * 86400;
  const q = `from=${from}&to=${to}`;
  const report = useLoad(() => get(`/services/${s.id}/stats/report?${q}`), [s.id, range]);
  const history = useLoad(() => get(`/services/${s.id}/stats/history?${q}&step=${step}`), [s.id, range]);
  const r = report.data;
  const csv = (name, extra = '') => `/api/v1/services/${s.id}/stats/report/${name}?${q}${extra}&format=csv`;
  const who = s.kind === 'radio' ? 'listeners' : 'viewers';
  return (
    <div class="stack">
      <div class="segmented" role="group" aria-label="Report range">
        {RANGES.map(([k, label]) => <button key={k} type="button" class={k === range ? 'btn small active' : 'btn small'} aria-pressed={k === range} onClick={() => setRange(k)}>{label}</button>)}
      </div>
      <ErrorBox error={report.error || history.error} />
      {r && (
        <Card title="Summary" actions={<a class="btn small" href={csv('summary')} download>CSV</a>}>
          <div class="stats-row">
            <Stat label={`Peak ${who}`} value={r.summary.peak_listeners} sub={r.summary.peak_at ? new Date(r.summary.peak_at * 1000).toLocaleString() : 'no one yet'} />
            <Stat label={`Unique ${who}`} value={r.summary.unique_listeners} sub="distinct addresses" />
            <Stat label="Sessions" value={r.summary.sessions} sub={`average ${duration(r.summary.average_session_seconds)}`} />
            <Stat label="Listening hours" value={r.summary.listening_hours.toFixed(1)} />
            <Stat label="Data sent" value={bytes(r.summary.bytes)} />
            {s.kind === 'radio' && <Stat label="Tracks played" value={r.summary.plays} />}
          </div>
        </Card>
      )}
      {history.data && (
        <Card title={`${who[0].toUpperCase()}${who.slice(1)} over time`} actions={<a class="btn small" href={csv('listeners', `&step=${step}`)} download>CSV</a>}>
          <LineChart label={`Peak ${who}`} points={history.data.points.map((p) => ({ t: p.t, v: p.listeners }))} />
        </Card>
      )}
      {r && (
        <Card title="Mounts and streams" actions={<a class="btn small" href={csv('mounts')} download>CSV</a>}>
          {r.mounts.length === 0 ? <Empty>No {who} in this range.</Empty> : (
            <table class="table">
              <thead><tr><th>Mount</th><th>Peak</th><th>Sessions</th><th>Hours</th><th>Sent</th></tr></thead>
              <tbody>{r.mounts.map((m) => <tr key={m.mount}><td>{m.mount}</td><td>{m.peak_listeners}</td><td>{m.sessions}</td><td>{m.listening_hours.toFixed(1)}</td><td>{bytes(m.bytes)}</td></tr>)}</tbody>
            </table>
          )}
        </Card>
      )}
      {r && (
        <Card title="Players and browsers" actions={<a class="btn small" href={csv('user_agents')} download>CSV</a>}>
          {r.user_agents.length === 0 ? <Empty>No sessions have ended in this range yet.</Empty> : (
            <table class="table">
              <thead><tr><th>Client</th><th>User agent</th><th>Sessions</th><th>Unique</th><th>Hours</th></tr></thead>
              <tbody>{r.user_agents.slice(0, 25).map((a, i) => <tr key={i}><td>{a.client}</td><td>{a.user_agent || '—'}</td><td>{a.sessions}</td><td>{a.unique_listeners}</td><td>{a.listening_hours.toFixed(1)}</td></tr>)}</tbody>
            </table>
          )}
        </Card>
      )}
      {r && s.kind === 'radio' && (
        <Card title="Tracks" actions={<a class="btn small" href={csv('tracks')} download>CSV</a>}>
          {r.tracks.length === 0 ? <Empty>Nothing played in this range.</Empty> : (
            <table class="table">
              <thead><tr><th>Title</th><th>Plays</th><th>Listeners at start (avg / max)</th><th>Last played</th></tr></thead>
              <tbody>{r.tracks.slice(0, 50).map((t, i) => <tr key={i}><td>{t.title}</td><td>{t.plays}</td><td>{t.average_listeners} / {t.max_listeners}</td><td>{new Date(t.last_played * 1000).toLocaleString()}</td></tr>)}</tbody>
            </table>
          )}
        </Card>
      )}
      {r && <p class="muted">Every session: <a href={csv('sessions')} download>sessions CSV</a> (start, end, mount, address, player, bytes).</p>}
    </div>
  );
}

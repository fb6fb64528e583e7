// DVR: the time-shift window, and recordings cut out of it into the media library.
import { get, put, post } from '../../api.js';
import { Card, Empty, ErrorBox, Form, Field, Badge, useLoad, useInterval, useToast } from '../../components.jsx';
import { dateTime } from '../../format.js';

function local(unix) {
  const d = new Date(unix * 1000);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

export function Dvr({ service: s }) {
  const dvr = useLoad(() => get(`/services/${s.id}/dvr`), [s.id]);
  const recs = useLoad(() => get(`/services/${s.id}/recordings?limit=100`), [s.id]);
  const toast = useToast();
  const working = recs.data && recs.data.items.some((r) => r.status === 'exporting' || r.status === 'recording');
  useInterval(() => { if (working) recs.reload(); }, 2000);
  const d = dvr.data;
  const now = Math.floor(Date.now() / 1000);
  return (
    <>
      <Card title="Time-shift (DVR)">
        <ErrorBox error={dvr.error} />
        {d && d.max_minutes === 0 && <Empty>DVR is not part of this service's plan.</Empty>}
        {d && d.max_minutes > 0 && (
          <Form submit="Save" onSubmit={async (v) => {
            await put(`/services/${s.id}/dvr`, { enabled: v.enabled, window_minutes: Number(v.window) });
            toast('DVR settings saved.');
            dvr.reload();
          }}>
            <div class="grid3">
              <label class="check"><input type="checkbox" name="enabled" defaultChecked={d.enabled} /> Record the stream for rewind</label>
              <Field label="Window (minutes)" hint={`Up to ${d.max_minutes} on this plan`}><input name="window" type="number" min="1" max={d.max_minutes} defaultValue={d.window_minutes || Math.min(120, d.max_minutes)} /></Field>
            </div>
            <p class="muted">Viewers can rewind up to the window in the player; the archive plays at <code>{d.playlist}</code>. {d.applies}</p>
          </Form>
        )}
      </Card>
      {d && d.enabled && (
        <Card title="Cut a recording">
          <Form submit="Export to media" onSubmit={async (v) => {
            const from = Math.floor(new Date(v.from).getTime() / 1000);
            const to = Math.floor(new Date(v.to).getTime() / 1000);
            if (!Number.isFinite(from) || !Number.isFinite(to)) throw new Error('Pick a start and an end.');
            if (to <= from) throw new Error('The end must be after the start.');
            await post(`/services/${s.id}/recordings`, { from, to, ...(v.title ? { title: v.title } : {}) });
            toast('Export started: the MP4 appears in Media when done.');
            recs.reload();
          }}>
            <div class="grid3">
              <Field label="From"><input name="from" type="datetime-local" defaultValue={local(now - 600)} required /></Field>
              <Field label="To"><input name="to" type="datetime-local" defaultValue={local(now - 60)} required /></Field>
              <Field label="Title (optional)"><input name="title" maxLength={200} /></Field>
            </div>
          </Form>
        </Card>
      )}
      <Card title="Recordings">
        <ErrorBox error={recs.error} />
        {recs.data && recs.data.items.length === 0 && <Empty>No recordings yet.</Empty>}
        {recs.data && recs.data.items.length > 0 && (
          <table class="table">
            <thead><tr><th>What</th><th>Span</th><th>State</th></tr></thead>
            <tbody>
              {recs.data.items.map((r) => (
                <tr key={r.id}>
                  <td>{r.label}</td>
                  <td>{dateTime(r.from)} – {dateTime(r.to)}</td>
                  <td>
                    {r.status === 'done' && <Badge kind="ok">Saved to media</Badge>}
                    {(r.status === 'exporting' || r.status === 'recording') && <><Badge>{r.status}</Badge> <progress max="1" value={r.progress} aria-label="Progress" /></>}
                    {r.status === 'failed' && <span class="warn-text">{r.error}</span>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Card>
    </>
  );
}

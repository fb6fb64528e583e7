// DJs: their own logins to the station's mount, priorities, and their weekly slots on a
// calendar.
import { useState } from 'preact/hooks';
import { get, post, patch, del } from '../../api.js';
import { Card, Confirm, Empty, ErrorBox, Form, Field, Copy, useLoad, useToast } from '../../components.jsx';

const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

export function Djs({ service: s }) {
  const djs = useLoad(() => get(`/services/${s.id}/djs?limit=500`), [s.id]);
  const [adding, setAdding] = useState(false);
  const toast = useToast();
  const items = djs.data ? djs.data.items : [];
  return (
    <>
      <Card title="DJs" actions={<button type="button" class="btn primary" onClick={() => setAdding(!adding)} aria-expanded={adding}>{adding ? 'Close' : 'Add DJ'}</button>}>
        <p class="muted">A DJ connects to <code>{s.publish.icecast.mount}</code> with their own username and password. A higher priority takes over from a lower one; the station's own <code>source</code> login is 50; AutoDJ is below everyone.</p>
        {adding && <NewDj service={s} onDone={() => { setAdding(false); djs.reload(); }} />}
        <ErrorBox error={djs.error} />
        {djs.data && items.length === 0 && <Empty>No DJs yet.</Empty>}
        {items.length > 0 && (
          <table class="table">
            <thead><tr><th>DJ</th><th>Priority</th><th>Slots (UTC)</th><th><span class="sr-only">Actions</span></th></tr></thead>
            <tbody>
              {items.map((d) => (
                <tr key={d.id}>
                  <td>{d.username}</td>
                  <td>
                    <input type="number" min="1" max="100" defaultValue={d.priority} aria-label={`Priority of ${d.username}`} class="narrow"
                      onChange={async (e) => {
                        try { await patch(`/services/${s.id}/djs/${d.id}`, { priority: Number(e.currentTarget.value) }); toast(`${d.username}: priority ${e.currentTarget.value}.`); } catch (err) { toast(err.message, 'error'); }
                      }} />
                  </td>
                  <td>{d.schedule.length ? d.schedule.map((x) => `${x.days.join(',')} ${x.start} (${x.duration_minutes} min)`).join('; ') : (d.scheduled_only ? 'none: cannot connect' : 'any time')}</td>
                  <td class="row-actions"><Confirm question={`Remove ${d.username}?`} label="Remove" onConfirm={async () => { await del(`/services/${s.id}/djs/${d.id}`); djs.reload(); }}>Remove</Confirm></td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Card>
      <Card title="Schedule (UTC)"><WeekCalendar djs={items} /></Card>
    </>
  );
}

function NewDj({ service: s, onDone }) {
  const [slot, setSlot] = useState(false);
  const toast = useToast();
  const [made, setMade] = useState(null);
  if (made) {
    return (
      <div class="created">
        <p>Send these to {made.username}:</p>
        <Copy label="Server" value={`${s.publish.icecast.host}:${s.publish.icecast.port}`} />
        <Copy label="Mount" value={s.publish.icecast.mount} />
        <Copy label="Username" value={made.username} />
        <Copy label="Password" value={made.password} secret />
        <button type="button" class="btn" onClick={onDone}>Done</button>
      </div>
    );
  }
  return (
    <Form reset submit="Add DJ" onSubmit={async (v) => {
      const body = { username: v.username, password: v.password, priority: Number(v.priority), scheduled_only: v.scheduled_only };
      if (slot) body.schedule = [{ days: DAYS.filter((d) => v[`day_${d}`]), start: v.start, duration_minutes: Number(v.duration) }];
      await post(`/services/${s.id}/djs`, body);
      toast(`Added DJ ${v.username}.`);
      setMade({ username: v.username, password: v.password });
    }}>
      <div class="grid3">
        <Field label="Username"><input name="username" required maxLength={64} autocomplete="off" /></Field>
        <Field label="Password" hint="At least 8 characters"><input name="password" type="password" required minLength={8} maxLength={1024} autocomplete="new-password" /></Field>
        <Field label="Priority (1-100)"><input name="priority" type="number" min="1" max="100" defaultValue="60" required /></Field>
      </div>
      <label class="check"><input type="checkbox" checked={slot} onChange={(e) => setSlot(e.currentTarget.checked)} /> Give a weekly slot</label>
      {slot && (
        <div class="grid3">
          <div class="days" role="group" aria-label="Days">{DAYS.map((d) => <label key={d} class="check"><input type="checkbox" name={`day_${d}`} /> {d}</label>)}</div>
          <Field label="Starts (UTC)"><input name="start" type="time" defaultValue="20:00" required /></Field>
          <Field label="Minutes"><input name="duration" type="number" min="1" max="1440" defaultValue="120" /></Field>
          <label class="check"><input type="checkbox" name="scheduled_only" /> Only during the slot</label>
        </div>
      )}
    </Form>
  );
}

/** A week, Monday to Sunday, with each DJ's slots as blocks. */
function WeekCalendar({ djs }) {
  const blocks = [];
  djs.forEach((d, n) => d.schedule.forEach((slot) => slot.days.forEach((day) => {
    const [h, m] = slot.start.split(':').map(Number);
    const start = h * 60 + m;
    const col = DAYS.indexOf(day.slice(0, 3).toLowerCase());
    if (col < 0) return;
    // A slot past midnight continues on the next day.
    const first = Math.min(slot.duration_minutes, 1440 - start);
    blocks.push({ col, start, len: first, who: d.username, n });
    if (slot.duration_minutes > first) blocks.push({ col: (col + 1) % 7, start: 0, len: slot.duration_minutes - first, who: d.username, n });
  })));
  if (!blocks.length) return <Empty>No DJ has a slot yet.</Empty>;
  return (
    <div class="week" role="table" aria-label="DJ slots this week">
      {DAYS.map((day, col) => (
        <div key={day} class="week-day" role="row">
          <div class="week-head" role="columnheader">{day}</div>
          <div class="week-body">
            {blocks.filter((b) => b.col === col).map((b, i) => (
              <div key={i} role="cell" class={`week-slot hue${b.n % 6}`} style={{ top: `${(b.start / 1440) * 100}%`, height: `${Math.max(2, (b.len / 1440) * 100)}%` }}
                title={`${b.who} ${String(Math.floor(b.start / 60)).padStart(2, '0')}:${String(b.start % 60).padStart(2, '0')} for ${b.len} min`}>
                {b.who}
              </div>
            ))}
          </div>
        </div>
      ))}
    </div>
  );
}

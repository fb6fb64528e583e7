// Playlists: rotation, scheduled and interval lists of tracks (drag to order) or a folder.
import { useState } from 'preact/hooks';
import { get, post, put, del } from '../../api.js';
import { Card, Confirm, Empty, ErrorBox, Field, Badge, useLoad, useBusy, useToast } from '../../components.jsx';
import { duration } from '../../format.js';

const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

export function Playlists({ service: s }) {
  const lists = useLoad(() => get(`/services/${s.id}/playlists?limit=500`), [s.id]);
  const media = useLoad(() => get(`/services/${s.id}/media?limit=1000`), [s.id]);
  const [editing, setEditing] = useState(null); // null | 'new' | playlist
  const toast = useToast();
  const byId = media.data ? Object.fromEntries(media.data.items.map((m) => [m.id, m])) : {};
  if (editing) {
    return <Editor service={s} list={editing === 'new' ? null : editing} library={media.data ? media.data.items : []}
      onDone={() => { setEditing(null); lists.reload(); }} />;
  }
  return (
    <Card title="Playlists" actions={<button type="button" class="btn primary" onClick={() => setEditing('new')}>New playlist</button>}>
      <ErrorBox error={lists.error} />
      {lists.data && lists.data.items.length === 0 && <Empty>No playlists yet. AutoDJ plays from playlists: make one from your uploads.</Empty>}
      {lists.data && lists.data.items.length > 0 && (
        <table class="table">
          <thead><tr><th>Name</th><th>Kind</th><th>Plays</th><th>Tracks</th><th><span class="sr-only">Actions</span></th></tr></thead>
          <tbody>
            {lists.data.items.map((p) => (
              <tr key={p.id}>
                <td>{p.name} {!p.enabled && <Badge>off</Badge>}</td>
                <td>{p.kind}{p.kind === 'rotation' ? `, weight ${p.weight}` : ''}</td>
                <td>{describe(p)}</td>
                <td>{p.folder != null ? `folder ${p.folder || '(all)'}` : `${p.media.length} (${duration(p.media.reduce((n, id) => n + (byId[id] ? byId[id].duration_s : 0), 0))})`}</td>
                <td class="row-actions">
                  <button type="button" class="btn small" onClick={() => setEditing(p)}>Edit</button>
                  <Confirm question={`Delete ${p.name}?`} label="Delete" onConfirm={async () => { await del(`/services/${s.id}/playlists/${p.id}`); toast(`Deleted ${p.name}.`); lists.reload(); }}>Delete</Confirm>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Card>
  );
}

function describe(p) {
  const order = p.order;
  if (p.kind === 'scheduled' && p.schedule) {
    const c = p.schedule;
    const when = c.repeat === 'weekly' ? c.days.join(', ') : c.repeat === 'once' ? c.date : c.repeat === 'monthly' ? `day ${c.day}` : 'daily';
    return `${when} ${c.start} UTC for ${c.duration_minutes} min, ${order}`;
  }
  if (p.kind === 'interval') {
    const every = p.every_n_songs ? `every ${p.every_n_songs} songs` : p.every_n_minutes ? `every ${p.every_n_minutes} min` : `at :${String(p.at_minute).padStart(2, '0')}`;
    return `${every}${p.interrupts ? ', interrupting' : ''}`;
  }
  return order;
}

function Editor({ service: s, list, library, onDone }) {
  const [busy, run] = useBusy();
  const [error, setError] = useState(null);
  const [name, setName] = useState(list ? list.name : '');
  const [kind, setKind] = useState(list ? list.kind : 'rotation');
  const [order, setOrder] = useState(list ? list.order : 'shuffle');
  const [weight, setWeight] = useState(list ? list.weight : 5);
  const [source, setSource] = useState(list && list.folder != null ? 'folder' : 'tracks');
  const [folder, setFolder] = useState(list && list.folder != null ? list.folder : '');
  const [tracks, setTracks] = useState(list ? list.media.slice() : []);
  const [cal, setCal] = useState(list && list.schedule ? list.schedule : { repeat: 'weekly', days: ['mon'], start: '08:00', duration_minutes: 60 });
  const [interval, setInterval_] = useState({
    mode: list && list.every_n_minutes ? 'minutes' : list && list.at_minute != null ? 'at' : 'songs',
    n: list ? (list.every_n_songs || list.every_n_minutes || list.at_minute || 4) : 4,
  });
  const [interrupts, setInterrupts] = useState(list ? list.interrupts : false);
  const [requests, setRequests] = useState(list ? list.allow_requests : false);
  const [enabled, setEnabled] = useState(list ? list.enabled : true);
  const [drag, setDrag] = useState(null);
  const [filter, setFilter] = useState('');
  const toast = useToast();
  const byId = Object.fromEntries(library.map((m) => [m.id, m]));
  const folders = [...new Set(library.map((m) => m.folder).filter(Boolean))].sort();
  const audio = library.filter((m) => !tracks.includes(m.id) && `${m.title} ${m.artist}`.toLowerCase().includes(filter.toLowerCase()));

  const move = (from, to) => {
    if (to < 0 || to >= tracks.length || from === to) return;
    const next = tracks.slice();
    const [x] = next.splice(from, 1);
    next.splice(to, 0, x);
    setTracks(next);
  };

  const save = (e) => {
    e.preventDefault();
    run(async () => {
      setError(null);
      const body = { name, kind, order, enabled, allow_requests: requests, interrupts };
      if (kind === 'rotation') body.weight = Number(weight);
      if (source === 'folder') body.folder = folder; else body.media = tracks;
      if (kind === 'scheduled') body.schedule = cleanCal(cal);
      if (kind === 'interval') {
        if (interval.mode === 'songs') body.every_n_songs = Number(interval.n);
        else if (interval.mode === 'minutes') body.every_n_minutes = Number(interval.n);
        else body.at_minute = Number(interval.n);
      }
      try {
        if (list) await put(`/services/${s.id}/playlists/${list.id}`, body);
        else await post(`/services/${s.id}/playlists`, body);
        toast(`Saved ${name}.`);
        onDone();
      } catch (err) {
        setError(err.message);
      }
    });
  };

  return (
    <Card title={list ? `Edit ${list.name}` : 'New playlist'}>
      <form class="form" onSubmit={save}>
        <div class="grid3">
          <Field label="Name"><input value={name} onInput={(e) => setName(e.currentTarget.value)} required maxLength={100} /></Field>
          <Field label="Kind">
            <select value={kind} onChange={(e) => setKind(e.currentTarget.value)}>
              <option value="rotation">Rotation (general)</option>
              <option value="scheduled">Scheduled (on the calendar)</option>
              <option value="interval">Interval (jingles, news)</option>
            </select>
          </Field>
          <Field label="Order">
            <select value={order} onChange={(e) => setOrder(e.currentTarget.value)}>
              <option value="shuffle">Shuffle</option><option value="sequential">In order</option><option value="random">Random</option>
            </select>
          </Field>
          {kind === 'rotation' && <Field label="Weight" hint="1-25: how often, against other rotations"><input type="number" min="1" max="25" value={weight} onInput={(e) => setWeight(e.currentTarget.value)} /></Field>}
        </div>
        {kind === 'scheduled' && <CalendarFields cal={cal} onChange={setCal} />}
        {kind === 'interval' && (
          <div class="grid3">
            <Field label="Plays">
              <select value={interval.mode} onChange={(e) => setInterval_({ ...interval, mode: e.currentTarget.value })}>
                <option value="songs">every N songs</option><option value="minutes">every N minutes</option><option value="at">at minute M of each hour</option>
              </select>
            </Field>
            <Field label={interval.mode === 'at' ? 'Minute' : 'N'}><input type="number" min={interval.mode === 'at' ? 0 : 1} max={interval.mode === 'at' ? 59 : 1440} value={interval.n} onInput={(e) => setInterval_({ ...interval, n: e.currentTarget.value })} /></Field>
            <label class="check"><input type="checkbox" checked={interrupts} onChange={(e) => setInterrupts(e.currentTarget.checked)} /> Interrupt the song playing (fade)</label>
          </div>
        )}
        <div class="row">
          <label class="check"><input type="radio" name="src" checked={source === 'tracks'} onChange={() => setSource('tracks')} /> Chosen tracks</label>
          <label class="check"><input type="radio" name="src" checked={source === 'folder'} onChange={() => setSource('folder')} /> A whole folder (follows it)</label>
          <label class="check"><input type="checkbox" checked={requests} onChange={(e) => setRequests(e.currentTarget.checked)} /> Listeners may request these</label>
          <label class="check"><input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.currentTarget.checked)} /> Enabled</label>
        </div>
        {source === 'folder' ? (
          <Field label="Folder">
            <select value={folder} onChange={(e) => setFolder(e.currentTarget.value)}>
              <option value="">(the whole library)</option>
              {folders.map((f) => <option key={f} value={f}>{f}</option>)}
            </select>
          </Field>
        ) : (
          <div class="picker">
            <div>
              <h3>In this playlist ({tracks.length})</h3>
              {tracks.length === 0 && <Empty>Add tracks from the library.</Empty>}
              <ol class="tracklist" aria-label="Playlist order (drag, or use the arrows)">
                {tracks.map((id, i) => (
                  <li key={id} draggable class={drag === i ? 'dragging' : ''}
                    onDragStart={(e) => { setDrag(i); e.dataTransfer.effectAllowed = 'move'; }}
                    onDragOver={(e) => { e.preventDefault(); if (drag !== null && drag !== i) { move(drag, i); setDrag(i); } }}
                    onDragEnd={() => setDrag(null)}>
                    <span class="grip" aria-hidden="true">⠿</span>
                    <span class="track-name">{byId[id] ? `${byId[id].artist ? `${byId[id].artist} – ` : ''}${byId[id].title}` : `#${id}`}</span>
                    <button type="button" class="btn small" aria-label="Move up" onClick={() => move(i, i - 1)} disabled={i === 0}>↑</button>
                    <button type="button" class="btn small" aria-label="Move down" onClick={() => move(i, i + 1)} disabled={i === tracks.length - 1}>↓</button>
                    <button type="button" class="btn small" aria-label="Remove" onClick={() => setTracks(tracks.filter((t) => t !== id))}>✕</button>
                  </li>
                ))}
              </ol>
            </div>
            <div>
              <h3>Library</h3>
              <input type="search" placeholder="Search title or artist" value={filter} onInput={(e) => setFilter(e.currentTarget.value)} aria-label="Search the library" />
              <ul class="tracklist library">
                {audio.slice(0, 200).map((m) => (
                  <li key={m.id}>
                    <span class="track-name">{m.artist ? `${m.artist} – ` : ''}{m.title} <small>{duration(m.duration_s)}</small></span>
                    <button type="button" class="btn small" onClick={() => setTracks([...tracks, m.id])} aria-label={`Add ${m.title}`}>Add</button>
                  </li>
                ))}
              </ul>
              {library.length > 0 && <button type="button" class="btn small" onClick={() => setTracks([...tracks, ...audio.map((m) => m.id)])}>Add all shown</button>}
            </div>
          </div>
        )}
        {error && <p class="form-error" role="alert">{error}</p>}
        <div class="form-actions">
          <button class="btn primary" type="submit" disabled={busy}>{busy ? 'Saving…' : 'Save playlist'}</button>
          <button type="button" class="btn" onClick={onDone}>Cancel</button>
        </div>
      </form>
    </Card>
  );
}

function cleanCal(c) {
  const out = { repeat: c.repeat, start: c.start, duration_minutes: Number(c.duration_minutes) };
  if (c.repeat === 'weekly') out.days = c.days;
  if (c.repeat === 'once') out.date = c.date;
  if (c.repeat === 'monthly') out.day = Number(c.day);
  return out;
}

function CalendarFields({ cal, onChange }) {
  const set = (k) => (e) => onChange({ ...cal, [k]: e.currentTarget.value });
  return (
    <fieldset class="grid3">
      <legend>When (UTC)</legend>
      <Field label="Repeats">
        <select value={cal.repeat} onChange={set('repeat')}>
          <option value="once">Once</option><option value="daily">Daily</option><option value="weekly">Weekly</option><option value="monthly">Monthly</option>
        </select>
      </Field>
      {cal.repeat === 'once' && <Field label="Date"><input type="date" value={cal.date || ''} onInput={set('date')} required /></Field>}
      {cal.repeat === 'monthly' && <Field label="Day of the month"><input type="number" min="1" max="31" value={cal.day || 1} onInput={set('day')} /></Field>}
      <Field label="Starts at"><input type="time" value={cal.start} onInput={set('start')} required /></Field>
      <Field label="For (minutes)"><input type="number" min="1" max="1440" value={cal.duration_minutes} onInput={set('duration_minutes')} /></Field>
      {cal.repeat === 'weekly' && (
        <div class="days" role="group" aria-label="Days">
          {DAYS.map((d) => (
            <label key={d} class="check"><input type="checkbox" checked={(cal.days || []).includes(d)}
              onChange={(e) => onChange({ ...cal, days: e.currentTarget.checked ? [...(cal.days || []), d] : (cal.days || []).filter((x) => x !== d) })} /> {d}</label>
          ))}
        </div>
      )}
    </fieldset>
  );
}

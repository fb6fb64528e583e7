// The media library: uploads with a progress bar per file, folders, tags, delete, quota,
// and for videos who may watch them (public, unlisted, private) and links to share.
import { useState, useRef } from 'preact/hooks';
import { get, post, patch, del, upload } from '../../api.js';
import { Action, Card, Confirm, Copy, Empty, ErrorBox, Form, Field, Badge, useLoad, useToast, useInterval } from '../../components.jsx';
import { bytes, duration } from '../../format.js';

const MEDIA_EXT = /\.(mp3|m4a|aac|mp4|m4v|mov|mkv|webm|ogg|oga|opus|flac|wav|aif|aiff|wma|ts|flv|avi)$/i;

export function Media({ service: s }) {
  const [folder, setFolder] = useState('');
  const all = useLoad(() => get(`/services/${s.id}/media?limit=1000`), [s.id]);
  const [editing, setEditing] = useState(null);
  const toast = useToast();
  const items = all.data ? all.data.items : [];
  const used = items.reduce((n, m) => n + m.size_bytes, 0);
  const quota = s.limits.disk_quota_mb * 1024 * 1024;
  const folders = [...new Set(items.map((m) => m.folder).filter(Boolean))].sort();
  const shown = folder ? items.filter((m) => m.folder === folder || m.folder.startsWith(`${folder}/`)) : items;
  const hasVod = items.some((m) => m.vod && m.vod.status !== 'ready' && m.vod.status !== 'failed');
  // Videos being transcoded for on-demand play: follow their progress.
  useInterval(() => { if (hasVod) all.reload(); }, 3000);
  return (
    <>
      <Uploader service={s} folder={folder} left={quota - used} onDone={all.reload} />
      <Card title="Library" actions={
        <>
          <span class="quota" title="Shared by all your services">
            {bytes(used)} of {bytes(quota)} used
            <meter min="0" max={quota || 1} value={used} low={quota * 0.7} high={quota * 0.9} optimum={0} aria-label="Disk used" />
          </span>
          <label class="inline">Folder{' '}
            <select value={folder} onChange={(e) => setFolder(e.currentTarget.value)} aria-label="Folder">
              <option value="">All</option>
              {folders.map((f) => <option key={f} value={f}>{f}</option>)}
            </select>
          </label>
        </>
      }>
        <ErrorBox error={all.error} />
        {all.data && shown.length === 0 && <Empty>No files here yet. Upload MP3, AAC, FLAC, Ogg or video files above.</Empty>}
        {shown.length > 0 && (
          <table class="table media-table">
            <thead><tr><th>Title</th><th>Artist</th><th>Length</th><th>Folder</th><th>Size</th><th><span class="sr-only">Actions</span></th></tr></thead>
            <tbody>
              {shown.map((m) => (
                <tr key={m.id}>
                  <td>
                    {m.has_cover && <img class="thumb" src={`/api/v1/services/${s.id}/media/${m.id}/cover`} alt="" loading="lazy" />}
                    {m.title}
                    {m.vod && <VodState service={s} item={m} onChange={all.reload} />}
                  </td>
                  <td>{m.artist}</td>
                  <td>{duration(m.duration_s)}</td>
                  <td>{m.folder || <span class="muted">—</span>}</td>
                  <td>{bytes(m.size_bytes)}</td>
                  <td class="row-actions">
                    <button type="button" class="btn small" onClick={() => setEditing(editing === m.id ? null : m.id)}>Edit</button>
                    <Confirm question={`Delete ${m.title}?`} label="Delete" onConfirm={async () => { await del(`/services/${s.id}/media/${m.id}`); toast(`Deleted ${m.title}.`); all.reload(); }}>Delete</Confirm>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {editing && <EditTags service={s} item={items.find((m) => m.id === editing)} onDone={() => { setEditing(null); all.reload(); }} />}
      </Card>
    </>
  );
}

const VISIBILITY = {
  public: 'Public',
  unlisted: 'Unlisted (anyone with the link)',
  private: 'Private (you, or a link that expires)',
};

function VodState({ service: s, item: m, onChange }) {
  const { vod } = m;
  const toast = useToast();
  const [shared, setShared] = useState(null);
  const who = (
    <select value={m.visibility} aria-label={`Who may watch ${m.title}`} onChange={async (e) => {
      const visibility = e.currentTarget.value;
      try {
        await patch(`/services/${s.id}/media/${m.id}`, { visibility });
        setShared(null);
        onChange();
      } catch (err) { toast(err.message || String(err), 'error'); }
    }}>
      {Object.entries(VISIBILITY).map(([v, label]) => <option key={v} value={v}>{label}</option>)}
    </select>
  );
  if (vod.status === 'failed') return <> <Badge kind="warn">Not playable</Badge> <span class="warn-text">{vod.error}</span></>;
  if (vod.status !== 'ready') return <> <Badge>{vod.status === 'queued' ? 'Waiting to transcode' : `Transcoding ${Math.round(vod.progress * 100)}%`}</Badge> {who}</>;
  return (
    <>
      {' '}<Badge kind="ok">On demand</Badge> <a href={vod.player_path} target="_blank" rel="noopener">Watch</a> {who}
      {m.visibility === 'private' && (
        <Action class="btn small" onClick={async () => setShared(await post(`/services/${s.id}/media/${m.id}/signed-url?ttl=86400`))}>Link for 24 hours</Action>
      )}
      {m.visibility !== 'private' && <Copy label="Link" value={`${location.origin}${vod.player_path}`} />}
      {shared && <Copy label={`Link until ${new Date(shared.expires_at).toLocaleString()}`} value={shared.player_url} />}
    </>
  );
}

function EditTags({ service: s, item, onDone }) {
  if (!item) return null;
  return (
    <Card title={`Edit ${item.filename}`}>
      <Form onSubmit={async (v) => { await patch(`/services/${s.id}/media/${item.id}`, v); onDone(); }} extra={<button type="button" class="btn" onClick={onDone}>Cancel</button>}>
        <div class="grid2">
          <Field label="Title"><input name="title" defaultValue={item.title} maxLength={300} /></Field>
          <Field label="Artist"><input name="artist" defaultValue={item.artist} maxLength={300} /></Field>
          <Field label="Album"><input name="album" defaultValue={item.album} maxLength={300} /></Field>
          <Field label="Folder"><input name="folder" defaultValue={item.folder} maxLength={200} /></Field>
        </div>
      </Form>
    </Card>
  );
}

/** Files picked or dropped, each uploaded on its own with its own bar and outcome. */
function Uploader({ service: s, folder, left, onDone }) {
  const [jobs, setJobs] = useState([]);
  const [over, setOver] = useState(false);
  const [target, setTarget] = useState('');
  const input = useRef(null);
  const update = (id, change) => setJobs((js) => js.map((j) => (j.id === id ? { ...j, ...change } : j)));

  const start = async (files) => {
    let budget = left;
    const list = [...files].map((f) => {
      const id = Math.random();
      let error = null;
      if (!MEDIA_EXT.test(f.name) && !/^(audio|video)\//.test(f.type)) error = `${f.name} is not an audio or video file.`;
      else if (f.size > budget) error = `${f.name} is too big (${bytes(f.size)}): ${bytes(Math.max(0, budget))} of the disk quota is left.`;
      else budget -= f.size;
      return { id, file: f, name: f.name, progress: 0, state: error ? 'failed' : 'waiting', error };
    });
    setJobs((js) => [...list, ...js].slice(0, 50));
    // Two at a time: a slow file does not hold up the rest, and the server is not flooded.
    const queue = list.filter((j) => j.state === 'waiting');
    const worker = async () => {
      for (let j = queue.shift(); j; j = queue.shift()) {
        update(j.id, { state: 'uploading' });
        const up = upload(`/services/${s.id}/media`, j.file, target || folder, (p) => update(j.id, { progress: p }));
        update(j.id, { abort: up.abort });
        try {
          const res = await up.done;
          const dup = res.items && res.items[0] && res.items[0].duplicate;
          update(j.id, { state: 'done', progress: 1, note: dup ? 'already in your library' : null, abort: null });
        } catch (e) {
          update(j.id, { state: 'failed', error: `${j.name}: ${e.message}`, abort: null });
        }
      }
    };
    await Promise.all([worker(), worker()]);
    onDone();
  };

  return (
    <Card title="Upload">
      <div class={over ? 'dropzone over' : 'dropzone'}
        onDragOver={(e) => { e.preventDefault(); setOver(true); }}
        onDragLeave={() => setOver(false)}
        onDrop={(e) => { e.preventDefault(); setOver(false); start(e.dataTransfer.files); }}>
        <p>Drop audio or video files here, or</p>
        <input ref={input} type="file" multiple accept="audio/*,video/*" aria-label="Choose files to upload"
          onChange={(e) => { start(e.currentTarget.files); e.currentTarget.value = ''; }} />
        <label class="inline">into folder <input value={target} placeholder={folder || '(top level)'} onInput={(e) => setTarget(e.currentTarget.value)} maxLength={200} aria-label="Upload folder" /></label>
      </div>
      {jobs.length > 0 && (
        <ul class="uploads" aria-label="Uploads">
          {jobs.map((j) => (
            <li key={j.id} class={`upload upload-${j.state}`} data-file={j.name}>
              <span class="upload-name">{j.name}</span>
              <progress max="1" value={j.progress} aria-label={`Upload of ${j.name}`} />
              <span class="upload-state" role={j.state === 'failed' ? 'alert' : undefined}>
                {j.state === 'waiting' && 'Waiting'}
                {j.state === 'uploading' && `${Math.round(j.progress * 100)}%${j.progress >= 1 ? ' — checking the file…' : ''}`}
                {j.state === 'done' && (j.note ? `Done (${j.note})` : 'Done')}
                {j.state === 'failed' && j.error}
              </span>
              {j.abort && <button type="button" class="btn small" onClick={j.abort}>Cancel</button>}
            </li>
          ))}
        </ul>
      )}
    </Card>
  );
}

// The transcoding ladder (video: resolutions and bitrates, watermark; radio: AAC rungs for
// HLS on phones).
import { useState, useEffect } from 'preact/hooks';
import { get, put, del } from '../../api.js';
import { Card, Confirm, Empty, ErrorBox, Field, useLoad, useBusy, useToast } from '../../components.jsx';

const VIDEO_DEFAULT = [
  { name: '720p', width: 1280, height: 720, video_kbps: 2500, audio_kbps: 128 },
  { name: '480p', width: 854, height: 480, video_kbps: 1200, audio_kbps: 96 },
  { name: '360p', width: 640, height: 360, video_kbps: 700, audio_kbps: 96 },
];
const RADIO_DEFAULT = [{ name: 'aac192', audio_kbps: 192 }, { name: 'aac96', audio_kbps: 96 }, { name: 'aac48', audio_kbps: 48 }];

export function Ladder({ service: s }) {
  const t = useLoad(() => get(`/services/${s.id}/transcode`), [s.id]);
  const media = useLoad(() => (s.kind === 'video' ? get(`/services/${s.id}/media?limit=1000`) : Promise.resolve(null)), [s.id]);
  const radio = s.kind === 'radio';
  const [rungs, setRungs] = useState([]);
  const [mark, setMark] = useState(null);
  const [error, setError] = useState(null);
  const [busy, run] = useBusy();
  const toast = useToast();
  useEffect(() => {
    if (!t.data) return;
    setRungs(t.data.enabled && t.data.renditions.length ? t.data.renditions : (radio ? RADIO_DEFAULT : VIDEO_DEFAULT));
    setMark(t.data.watermark || null);
  }, [t.data]);
  if (t.error) return <ErrorBox error={t.error} />;
  if (!t.data) return <p aria-busy="true">Loading…</p>;
  if (!t.data.allowed) return <Card title={radio ? 'HLS for phones' : 'Transcoding'}><Empty>Transcoding is not part of this service's plan. Ask your provider to enable it.</Empty></Card>;
  const pictures = media.data ? media.data.items.filter((m) => m.kind === 'image') : [];
  const set = (i, k) => (e) => {
    const v = e.currentTarget.value;
    setRungs(rungs.map((r, j) => (j === i ? { ...r, [k]: k === 'name' ? v : v === '' ? undefined : Number(v) } : r)));
  };
  const total = rungs.reduce((n, r) => n + (r.video_kbps || 0) + (r.audio_kbps || 0), 0);
  const save = (e) => {
    e.preventDefault();
    run(async () => {
      setError(null);
      try {
        const body = { renditions: rungs.map(({ name, width, height, video_kbps, audio_kbps }) => ({ name, width, height, video_kbps, audio_kbps })) };
        if (mark) body.watermark = mark;
        await put(`/services/${s.id}/transcode`, body);
        toast(`Saved. ${t.data.applies || ''}`);
        t.reload();
      } catch (err) { setError(err.message); }
    });
  };
  return (
    <Card title={radio ? 'HLS for phones' : 'Transcoding ladder'} actions={t.data.enabled && <Confirm question="Turn transcoding off?" label="Turn off" onConfirm={async () => { await del(`/services/${s.id}/transcode`); toast('Transcoding is off.'); t.reload(); }}>Turn off</Confirm>}>
      <p class="muted">{t.data.enabled ? 'On.' : 'Off: players get the source as it is sent.'} {radio ? 'Listeners on phones get adaptive AAC over HLS; the Icecast mounts stay as they are.' : 'Viewers get the rung that fits their connection; keyframes line up across rungs.'}</p>
      <form class="form" onSubmit={save}>
        <table class="table ladder">
          <thead><tr><th>Name</th>{!radio && <><th>Width</th><th>Height</th><th>Video kbit/s</th></>}<th>Audio kbit/s</th><th><span class="sr-only">Remove</span></th></tr></thead>
          <tbody>
            {rungs.map((r, i) => (
              <tr key={i}>
                <td><input value={r.name} onInput={set(i, 'name')} required maxLength={32} aria-label="Rung name" /></td>
                {!radio && <>
                  <td><input type="number" min="16" max="7680" value={r.width ?? ''} onInput={set(i, 'width')} aria-label="Width" /></td>
                  <td><input type="number" min="16" max="4320" value={r.height ?? ''} onInput={set(i, 'height')} aria-label="Height" /></td>
                  <td><input type="number" min="50" value={r.video_kbps ?? ''} onInput={set(i, 'video_kbps')} aria-label="Video bitrate" /></td>
                </>}
                <td><input type="number" min="16" max="512" value={r.audio_kbps ?? ''} onInput={set(i, 'audio_kbps')} aria-label="Audio bitrate" /></td>
                <td><button type="button" class="btn small" aria-label={`Remove ${r.name}`} onClick={() => setRungs(rungs.filter((_, j) => j !== i))}>✕</button></td>
              </tr>
            ))}
          </tbody>
        </table>
        <div class="row">
          <button type="button" class="btn small" onClick={() => setRungs([...rungs, radio ? { name: `aac${rungs.length}`, audio_kbps: 64 } : { name: '240p', width: 426, height: 240, video_kbps: 400, audio_kbps: 64 }])}>Add rung</button>
          <span class={total > t.data.max_bitrate_kbps ? 'warn-text' : 'muted'}>Total {total} kbit/s of the plan's {t.data.max_bitrate_kbps}</span>
        </div>
        {!radio && (
          <fieldset class="grid3">
            <legend>Watermark</legend>
            <Field label="Picture (PNG from your media)">
              <select value={mark ? mark.media : ''} onChange={(e) => setMark(e.currentTarget.value ? { position: 'top-right', opacity: 0.8, ...mark, media: Number(e.currentTarget.value) } : null)}>
                <option value="">None</option>
                {pictures.map((p) => <option key={p.id} value={p.id}>{p.filename}</option>)}
              </select>
            </Field>
            {mark && <>
              <Field label="Position">
                <select value={mark.position} onChange={(e) => setMark({ ...mark, position: e.currentTarget.value })}>
                  {['top-left', 'top-right', 'bottom-left', 'bottom-right'].map((p) => <option key={p} value={p}>{p}</option>)}
                </select>
              </Field>
              <Field label={`Opacity ${Math.round(mark.opacity * 100)}%`}><input type="range" min="0.1" max="1" step="0.05" value={mark.opacity} onInput={(e) => setMark({ ...mark, opacity: Number(e.currentTarget.value) })} /></Field>
            </>}
          </fieldset>
        )}
        {error && <p class="form-error" role="alert">{error}</p>}
        <div class="form-actions"><button class="btn primary" type="submit" disabled={busy || rungs.length === 0}>{busy ? 'Saving…' : 'Save ladder'}</button></div>
      </form>
    </Card>
  );
}

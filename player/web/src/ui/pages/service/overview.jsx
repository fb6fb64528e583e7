import { useState } from 'preact/hooks';
import { get, post } from '../../api.js';
import { Card, Stat, Copy, Action, Confirm, Empty, ErrorBox, LineChart, useLoad, useInterval, useToast } from '../../components.jsx';
import { bytes, duration } from '../../format.js';
import { SetupGuide } from './setup.jsx';

export function Overview({ service: s, reload }) {
  const stats = useLoad(() => get(`/services/${s.id}/stats`), [s.id]);
  useInterval(stats.reload, 5000);
  const st = stats.data;
  return (
    <div class="cols">
      <div class="col">
        <Card title="Now">
          <ErrorBox error={stats.error} />
          {st && (
            <div class="stats-row">
              <Stat label={s.kind === 'radio' ? 'Listeners now' : 'Viewers now'} value={st.listeners} sub={`peak ${st.peak_listeners}`} />
              <Stat label="Sessions (24 h)" value={st.sessions_24h} sub={`${st.listener_hours_24h.toFixed(1)} listening hours`} />
              <Stat label="Sent (24 h)" value={bytes(st.bytes_sent_24h)} />
            </div>
          )}
          {st && <Source st={st} kind={s.kind} />}
        </Card>
        {s.kind === 'radio' && <AutoDj service={s} stats={st} onChange={() => { stats.reload(); reload(); }} />}
        <ListenerChart service={s} />
        <Usage service={s} />
      </div>
      <div class="col">
        <Credentials service={s} onRotated={reload} />
        <SetupGuide service={s} />
      </div>
    </div>
  );
}

function Source({ st, kind }) {
  if (!st.live || !st.source) return <p class="muted">{kind === 'radio' ? 'No source is on air. Connect an encoder with the settings on the right, or start AutoDJ.' : 'No one is publishing. Point OBS or ffmpeg at the RTMP settings on the right.'}</p>;
  const src = st.source;
  if (kind === 'radio') {
    return (
      <dl class="facts">
        <dt>On air</dt><dd>{src.dj}{src.name ? ` (${src.name})` : ''}</dd>
        <dt>Format</dt><dd>{src.content_type}{src.bitrate_kbps ? `, ${src.bitrate_kbps} kbit/s` : ''}</dd>
        <dt>Since</dt><dd>{new Date(src.since).toLocaleString()}</dd>
        {st.now_playing && <><dt>Playing</dt><dd>{st.now_playing}</dd></>}
      </dl>
    );
  }
  return (
    <dl class="facts">
      <dt>Protocol</dt><dd>{src.protocol}</dd>
      {src.video && <><dt>Video</dt><dd>{src.video.codec} {src.video.width}×{src.video.height}{src.video.frame_rate ? ` @ ${src.video.frame_rate} fps` : ''}</dd></>}
      {src.audio && <><dt>Audio</dt><dd>{src.audio.codec} {src.audio.sample_rate} Hz, {src.audio.channels} ch</dd></>}
      {src.bitrate_kbps && <><dt>Bitrate</dt><dd>{src.bitrate_kbps} kbit/s</dd></>}
      <dt>Live for</dt><dd>{duration(src.uptime_s)}</dd>
    </dl>
  );
}

function AutoDj({ service: s, stats, onChange }) {
  const a = stats && stats.autodj;
  const act = (verb) => async () => {
    await post(`/services/${s.id}/autodj/${verb}`);
    onChange();
  };
  if (!s.limits.autodj) return <Card title="AutoDJ"><Empty>AutoDJ is not part of this service's plan.</Empty></Card>;
  const running = a && a.running;
  return (
    <Card title="AutoDJ" actions={
      <>
        {!running && <Action class="btn primary" onClick={act('start')} done="AutoDJ started.">Start AutoDJ</Action>}
        {running && <Action class="btn" onClick={act('skip')} done="Skipped to the next track.">Skip track</Action>}
        {running && <Action class="btn" onClick={act('stop')} done="AutoDJ stopped.">Stop</Action>}
      </>
    }>
      {!stats && <p class="muted">Loading…</p>}
      {stats && !running && <p class="muted">AutoDJ is off. Upload tracks under Media, put them in a playlist, then start it.</p>}
      {a && running && (
        <div class="nowplaying">
          <div>
            <div class="np-label">{a.on_air ? 'Now playing' : 'Standing by (a live source is on air)'}</div>
            <div class="np-title">{a.now_playing ? `${a.now_playing.artist ? `${a.now_playing.artist} – ` : ''}${a.now_playing.title}` : '—'}</div>
            {a.next && <div class="np-next">Next: {a.next.artist ? `${a.next.artist} – ` : ''}{a.next.title}</div>}
            {a.silent_for_s != null && <div class="warn-text">Silent for {Math.round(a.silent_for_s)} s</div>}
          </div>
        </div>
      )}
    </Card>
  );
}

const RANGES = [['24h', '24 hours', 86400, 900], ['7d', '7 days', 7 * 86400, 3 * 3600], ['30d', '30 days', 30 * 86400, 12 * 3600]];

function ListenerChart({ service: s }) {
  const [range, setRange] = useState('24h');
  const [, , span, step] = RANGES.find((r) => r[0] === range);
  const { data, error } = useLoad(() => {
    const to = Math.floor(Date.now() / 1000);
    return get(`/services/${s.id}/stats/history?from=${to - span}&to=${to}&step=${step}`);
  }, [s.id, range]);
  return (
    <Card title={s.kind === 'radio' ? 'Listeners over time' : 'Viewers over time'} actions={
      <div class="segmented" role="group" aria-label="Range">
        {RANGES.map(([k, label]) => <button key={k} type="button" class={k === range ? 'btn small active' : 'btn small'} aria-pressed={k === range} onClick={() => setRange(k)}>{label}</button>)}
      </div>
    }>
      <ErrorBox error={error} />
      {data && <LineChart label="Listeners" points={data.points.map((p) => ({ t: p.t, v: p.listeners }))} />}
    </Card>
  );
}

function Credentials({ service: s, onRotated }) {
  const toast = useToast();
  const rotate = async () => {
    await post(`/services/${s.id}/rotate-credentials`);
    toast('New credentials made. Update your encoder: the old ones no longer work.');
    onRotated();
  };
  const p = s.publish;
  return (
    <Card title="Publish credentials" actions={<Confirm question="Encoders using the old credentials will be refused. Rotate?" label="Rotate" onConfirm={rotate}>Rotate credentials</Confirm>}>
      {p.icecast && (
        <div class="copies">
          <Copy label="Server" value={p.icecast.host} />
          <Copy label="Port" value={String(p.icecast.port)} />
          <Copy label="Mount" value={p.icecast.mount} />
          <Copy label="Username" value={p.icecast.username} />
          <Copy label="Password" value={p.icecast.password} secret />
        </div>
      )}
      {p.rtmp && (
        <div class="copies">
          <Copy label="Server" value={p.rtmp.url} />
          <Copy label="Stream key" value={p.rtmp.stream_key} secret />
        </div>
      )}
      <h3>Listen and watch</h3>
      <div class="copies">
        {s.urls.listen && <Copy label="Stream URL" value={s.urls.listen} />}
        <Copy label="HLS" value={s.urls.hls} />
        {s.urls.dvr && <Copy label="DVR" value={s.urls.dvr} />}
        <Copy label="Player" value={s.urls.player} />
      </div>
    </Card>
  );
}

function Usage({ service: s }) {
  const { data: u, error } = useLoad(() => get(`/services/${s.id}/usage`), [s.id]);
  if (error) return <ErrorBox error={error} />;
  if (!u) return null;
  const t = u.transfer;
  return (
    <Card title={`Usage in ${u.period}`}>
      <div class="stats-row">
        <Stat label="Data sent" value={bytes(t.bytes)} sub={t.limit_bytes ? <>of {bytes(t.limit_bytes)}{t.exceeded ? (t.action === 'suspend' ? ' — over: suspended until the month ends' : ' — over the limit') : ''}</> : 'no monthly limit'} />
        <Stat label="Disk" value={bytes(u.disk.used_bytes)} sub={`of ${bytes(u.disk.limit_bytes)} (library ${bytes(u.disk.media_bytes)}, DVR ${bytes(u.disk.dvr_bytes)})`} />
      </div>
    </Card>
  );
}

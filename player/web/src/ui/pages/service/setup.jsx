// Step-by-step encoder settings, filled in with this service's own values.
import { useState } from 'preact/hooks';
import { Card, Copy } from '../../components.jsx';

export function SetupGuide({ service: s }) {
  const radio = s.kind === 'radio';
  const guides = radio ? ['butt', 'Mixxx', 'ffmpeg', 'Liquidsoap'] : ['OBS', 'ffmpeg'];
  const [which, setWhich] = useState(guides[0]);
  return (
    <Card title="How to go live" actions={
      <div class="segmented" role="tablist" aria-label="Encoder">
        {guides.map((g) => <button key={g} type="button" role="tab" aria-selected={g === which} class={g === which ? 'btn small active' : 'btn small'} onClick={() => setWhich(g)}>{g}</button>)}
      </div>
    }>
      <div role="tabpanel">{radio ? <RadioSteps s={s} which={which} /> : <VideoSteps s={s} which={which} />}</div>
    </Card>
  );
}

function RadioSteps({ s, which }) {
  const p = s.publish.icecast;
  if (which === 'butt') {
    return (
      <ol class="steps">
        <li>Open butt, then <b>Settings → Main → Server → Add</b>.</li>
        <li>Type <b>Icecast</b>; Address <code>{p.host}</code>; Port <code>{p.port}</code>.</li>
        <li>Password: the password above; Icecast mountpoint <code>{p.mount.slice(1)}</code>; Icecast user <code>{p.username}</code>.</li>
        <li>Under <b>Audio</b>, pick MP3 or AAC at up to {s.limits.max_bitrate_kbps} kbit/s.</li>
        <li>Press <b>Play</b> (the ▶ button) to go on air; the dashboard shows you live within a second.</li>
      </ol>
    );
  }
  if (which === 'Mixxx') {
    return (
      <ol class="steps">
        <li>In Mixxx, open <b>Preferences → Live Broadcasting</b> and add a connection.</li>
        <li>Type <b>Icecast 2</b>; Host <code>{p.host}</code>; Port <code>{p.port}</code>; Mount <code>{p.mount}</code>.</li>
        <li>Login <code>{p.username}</code> and the password above.</li>
        <li>Encoding: MP3 or AAC, up to {s.limits.max_bitrate_kbps} kbit/s. Then tick <b>Enable Live Broadcasting</b>.</li>
      </ol>
    );
  }
  if (which === 'ffmpeg') {
    const cmd = `ffmpeg -re -i music.mp3 -c:a libmp3lame -b:a 128k -content_type audio/mpeg -f mp3 icecast://${p.username}:${p.password}@${p.host}:${p.port}${p.mount}`;
    return <><p>Sends a file (or any input ffmpeg reads) to the station:</p><Copy value={cmd} multiline label="Command" /></>;
  }
  const ls = `output.icecast(%mp3(bitrate=128), host="${p.host}", port=${p.port},\n  user="${p.username}", password="${p.password}", mount="${p.mount.slice(1)}",\n  playlist("~/music"))`;
  return <><p>In your Liquidsoap script:</p><Copy value={ls} multiline label="Liquidsoap" /></>;
}

function VideoSteps({ s, which }) {
  const p = s.publish.rtmp;
  if (which === 'OBS') {
    return (
      <ol class="steps">
        <li>In OBS, open <b>Settings → Stream</b>.</li>
        <li>Service <b>Custom…</b>; Server <code>{p.url}</code>.</li>
        <li>Stream Key: the key above (keep it secret; rotate it if it leaks).</li>
        <li>Under <b>Output</b>: x264 or a hardware H.264 encoder, keyframe interval <b>2 s</b>, bitrate up to {s.limits.max_bitrate_kbps} kbit/s; AAC audio.</li>
        <li>Press <b>Start Streaming</b>. The player shows the stream a few seconds later.</li>
      </ol>
    );
  }
  const cmd = `ffmpeg -re -i video.mp4 -c:v libx264 -preset veryfast -g 60 -c:a aac -f flv ${p.url}/${p.stream_key}`;
  return <><p>Publishes a file (or a camera) over RTMP:</p><Copy value={cmd} multiline label="Command" /></>;
}

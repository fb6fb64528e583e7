// Restream targets (where the stream is sent on to) and the relay (where it is pulled from).
import { useState } from 'preact/hooks';
import { get, put, post, del } from '../../api.js';
import { Card, Field, Form, Confirm, useLoad, useInterval, useToast } from '../../components.jsx';

const STATE = {
  waiting: 'Waiting for something on air',
  connecting: 'Connecting…',
  live: 'Live',
  retrying: 'Retrying',
};

function Status({ t }) {
  return (
    <>
      {STATE[t.state] || t.state}
      {t.kbps ? ` · ${t.kbps} kbit/s` : ''}
      {t.last_error && t.state !== 'live' ? <div class="warn-text">{t.last_error}</div> : null}
    </>
  );
}

/** Where the service is sent on to (YouTube, Twitch, Facebook, RTMP, Icecast, Shoutcast). */
export function Restream({ service: s }) {
  const radio = s.kind === 'radio';
  const list = useLoad(() => get(`/services/${s.id}/targets`), [s.id]);
  const presets = useLoad(() => get('/restream/presets'), []);
  const ladder = useLoad(() => (radio ? Promise.resolve(null) : get(`/services/${s.id}/transcode`)), [s.id]);
  const media = useLoad(() => (radio ? get(`/services/${s.id}/media?limit=1000`) : Promise.resolve(null)), [s.id]);
  const toast = useToast();
  const [kind, setKind] = useState('rtmp');
  const [url, setUrl] = useState('');
  useInterval(() => list.reload(), 5000);
  const allowed = s.limits.restream || ['rtmp', 'icecast', 'shoutcast'];
  const kinds = (radio ? ['rtmp', 'icecast', 'shoutcast'] : ['rtmp']).filter((k) => allowed.includes(k));
  const rungs = ladder.data && ladder.data.enabled ? ladder.data.renditions.map((r) => r.name).filter((n) => n !== 'source') : [];
  const pictures = ((media.data && (media.data.items || media.data)) || []).filter((m) => m.kind === 'image' || m.kind === 'video');
  return (
    <Card title="Restream">
      <p class="muted">
        {radio
          ? 'Send this station on: to YouTube, Twitch or Facebook as video (a picture with the title playing), or to another Icecast or Shoutcast server as listeners hear it.'
          : 'Send this channel on to YouTube, Twitch, Facebook or any RTMP server, as it arrives or as one of its renditions.'}
        {' '}Each target reconnects by itself when the other side drops.
      </p>
      {list.data && list.data.length > 0 && (
        <table class="table">
          <thead><tr><th>Target</th><th>State</th><th></th></tr></thead>
          <tbody>{list.data.map((t) => (
            <tr key={t.id}>
              <td>{t.url}{t.rendition ? ` (${t.rendition})` : ''}{t.video ? ` · ${t.video.width}×${t.video.height}` : ''}</td>
              <td><Status t={t} /></td>
              <td><Confirm question="Remove?" label="Remove" onConfirm={async () => { await del(`/services/${s.id}/targets/${t.id}`); list.reload(); }}>Remove</Confirm></td>
            </tr>
          ))}</tbody>
        </table>
      )}
      {kinds.length === 0 ? <p class="muted">Restreaming is not part of this service's plan.</p> : (
        <Form submit="Add target" reset onSubmit={async (v) => {
          const body = { kind, url: v.url };
          if (kind === 'rtmp') {
            body.key = v.key;
            if (!radio && v.rendition) body.rendition = v.rendition;
            if (radio) {
              const [w, h] = v.size.split('x').map(Number);
              body.video = { width: w, height: h, fps: Number(v.fps) };
              if (v.media) body.video.media = Number(v.media);
            }
          }
          await post(`/services/${s.id}/targets`, body);
          toast('Target added.');
          setUrl('');
          list.reload();
        }}>
          {kinds.length > 1 && (
            <Field label="Kind">
              <select name="kind_choice" value={kind} onChange={(e) => { setKind(e.currentTarget.value); setUrl(''); }}>
                {kinds.map((k) => <option key={k} value={k}>{{ rtmp: 'RTMP (YouTube, Twitch, Facebook…)', icecast: 'Icecast', shoutcast: 'Shoutcast' }[k]}</option>)}
              </select>
            </Field>
          )}
          {kind === 'rtmp' && presets.data && (
            <Field label="Platform" hint="Fills in its ingest address; you can change it">
              <select onChange={(e) => setUrl(e.currentTarget.value)}>
                <option value="">Other RTMP server</option>
                {presets.data.map((p) => <option key={p.name} value={p.url}>{p.label}</option>)}
              </select>
            </Field>
          )}
          <Field label="Address" hint={{ rtmp: 'rtmp://host/app or rtmps://host/app', icecast: 'icecast://source:password@host:8000/mount', shoutcast: 'shoutcast://:password@host:8000 (add /2 for stream 2 of a Shoutcast 2 server)' }[kind]}>
            <input name="url" required maxLength={2000} autocomplete="off" value={url} onInput={(e) => setUrl(e.currentTarget.value)}
              placeholder={{ rtmp: 'rtmps://a.rtmps.youtube.com:443/live2', icecast: 'icecast://source:password@radio.example.com:8000/live.mp3', shoutcast: 'shoutcast://:password@radio.example.com:8000' }[kind]} />
          </Field>
          {kind === 'rtmp' && <Field label="Stream key" hint="Shown only to you"><input name="key" type="password" required maxLength={500} autocomplete="off" /></Field>}
          {kind === 'rtmp' && !radio && rungs.length > 0 && (
            <Field label="Send">
              <select name="rendition"><option value="">The stream as it arrives</option>{rungs.map((r) => <option key={r} value={r}>The {r} rendition</option>)}</select>
            </Field>
          )}
          {kind === 'rtmp' && radio && (
            <>
              <Field label="Picture" hint="The title playing and the station's name are drawn on it">
                <select name="media"><option value="">A plain background</option>{pictures.map((m) => <option key={m.id} value={m.id}>{m.title || m.filename}</option>)}</select>
              </Field>
              <Field label="Size">
                <select name="size"><option value="1280x720">1280×720 (720p)</option><option value="1920x1080">1920×1080 (1080p)</option><option value="854x480">854×480</option></select>
              </Field>
              <Field label="Frames per second"><select name="fps"><option value="30">30</option><option value="25">25</option><option value="15">15</option></select></Field>
            </>
          )}
        </Form>
      )}
    </Card>
  );
}

/** Where the service's source is pulled from instead of being pushed. */
export function Relay({ service: s }) {
  const radio = s.kind === 'radio';
  const relay = useLoad(() => get(`/services/${s.id}/relay`), [s.id]);
  const toast = useToast();
  const [url, setUrl] = useState('');
  useInterval(() => relay.reload(), 5000);
  const r = relay.data;
  if (s.limits.relay === false) return <Card title="Relay"><p class="muted">Relays are not part of this service's plan.</p></Card>;
  return (
    <Card title="Relay">
      <p class="muted">
        {radio
          ? 'Take this station from another Icecast or Shoutcast stream instead of a source connecting here.'
          : 'Pull this channel from an IP camera (RTSP), another RTMP server or an HLS stream instead of an encoder pushing to it.'}
        {' '}It is treated like a pushed source everywhere: players, recording, restreaming.
      </p>
      {r && (
        <div class="stack">
          <p><code>{r.url}</code> · {r.mode === 'on_demand' ? 'on demand' : 'always'} · <Status t={r} /></p>
          <div class="form-actions">
            <Confirm question="Stop relaying?" label="Stop" onConfirm={async () => { await del(`/services/${s.id}/relay`); relay.reload(); }}>Stop relaying</Confirm>
          </div>
        </div>
      )}
      <Form submit={r ? 'Change relay' : 'Start relaying'} onSubmit={async (v) => {
        const body = { url: v.url, mode: v.mode };
        if (v.url.startsWith('rtsp://')) body.transport = v.transport;
        await put(`/services/${s.id}/relay`, body);
        toast('Relaying.');
        relay.reload();
      }}>
        <Field label="Source address" hint={radio ? 'http://host:8000/mount' : 'rtsp://user:password@camera/stream, rtmp://host/app/stream or https://host/live.m3u8'}>
          <input name="url" required maxLength={2000} autocomplete="off" value={url} onInput={(e) => setUrl(e.currentTarget.value)} placeholder={radio ? 'http://radio.example.com:8000/live.mp3' : 'rtsp://camera.local:554/stream1'} />
        </Field>
        <Field label="When"><select name="mode"><option value="always">Always</option><option value="on_demand">Only while someone watches or listens</option></select></Field>
        {url.startsWith('rtsp://') && <Field label="RTSP transport"><select name="transport"><option value="tcp">TCP (through firewalls)</option><option value="udp">UDP</option></select></Field>}
      </Form>
    </Card>
  );
}

// Player links and embed snippets, with a live preview of the embed.
import { useState } from 'preact/hooks';
import { get, put, post, del } from '../../api.js';
import { Card, Copy, Field, Form, Action, Confirm, useLoad, useToast } from '../../components.jsx';
import { Restream, Relay } from './restream.jsx';

/** Text for an HTML attribute in the snippet (a station's name may hold quotes or tags). */
const attr = (v) => v.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function Embed({ service: s }) {
  const radio = s.kind === 'radio';
  const [height, setHeight] = useState(radio ? 170 : 360);
  const embed = s.urls.embed || s.urls.player.replace('/player/', '/embed/');
  const iframe = radio
    ? `<iframe src="${embed}" width="100%" height="${height}" frameborder="0" allow="autoplay" title="${attr(s.name)}"></iframe>`
    : `<iframe src="${embed}" width="640" height="${height}" frameborder="0" allow="autoplay; fullscreen" allowfullscreen title="${attr(s.name)}"></iframe>`;
  const nowplaying = `${location.origin}/api/v1/public/${s.slug}/nowplaying`;
  return (
    <div class="cols">
      <div class="col">
        <Card title="Links">
          <div class="copies">
            <Copy label="Player page" value={s.urls.player} />
            <Copy label="Embed address" value={embed} />
            {s.urls.listen && <Copy label="Direct stream" value={s.urls.listen} />}
            <Copy label="HLS" value={s.urls.hls} />
            {radio && <Copy label="Now playing (JSON)" value={nowplaying} />}
          </div>
        </Card>
        <Card title="Embed on your website">
          <Field label="Height (px)"><input type="number" min="80" max="1080" value={height} onInput={(e) => setHeight(Number(e.currentTarget.value) || height)} /></Field>
          <Copy label="HTML" value={iframe} multiline />
          <p class="muted">Paste it where the player should appear. It adapts to phones; viewers can use the keyboard (space to play, {radio ? 'Tab to the volume' : 'F for full screen'}).</p>
        </Card>
      </div>
      <div class="col">
        <Card title="Preview">
          <iframe class="preview" src={embed} title={`Preview of the ${s.name} player`} height={height} allow="autoplay; fullscreen" />
        </Card>
        <Restream service={s} />
        <Relay service={s} />
        <Webhook service={s} />
      </div>
    </div>
  );
}

const EVENTS = [['source_up', 'A source goes on air'], ['source_down', 'The last source leaves'], ['track_change', 'The title changes'], ['listener_limit', 'Someone is turned away (full)']];

/** The service's webhook: where events are POSTed (signed), and how the last one went. */
function Webhook({ service: s }) {
  const hook = useLoad(() => get(`/services/${s.id}/webhook`), [s.id]);
  const toast = useToast();
  const h = hook.data;
  return (
    <Card title="Webhook">
      <p class="muted">Tidecast POSTs JSON to this address when something happens, signed with the secret: header <code>X-Tidecast-Signature: t=…,v1=…</code> is the HMAC-SHA256 of <code>t.body</code>.</p>
      <Form submit={h ? 'Save webhook' : 'Add webhook'} onSubmit={async (v) => {
        const events = EVENTS.map(([k]) => k).filter((k) => v[`ev_${k}`]);
        const body = { url: v.url, events };
        if (v.secret) body.secret = v.secret;
        await put(`/services/${s.id}/webhook`, body);
        toast('Webhook saved.');
        hook.reload();
      }}>
        <Field label="URL"><input name="url" type="url" required maxLength={2000} placeholder="https://example.com/tidecast-hook" defaultValue={h ? h.url : ''} key={h ? h.url : 'new'} /></Field>
        <Field label="Secret" hint={h ? 'Leave empty to keep the current one' : 'Leave empty to have one made'}><input name="secret" minLength={16} maxLength={200} autocomplete="off" /></Field>
        {EVENTS.map(([k, label]) => <label class="check" key={k}><input type="checkbox" name={`ev_${k}`} defaultChecked={!h || h.events.includes(k)} /> {label} <code>{k}</code></label>)}
      </Form>
      {h && (
        <div class="stack">
          <Copy label="Secret" value={h.secret} secret />
          <p class="muted">
            {h.delivered} delivered, {h.failed} failed.
            {h.last && <> Last: <code>{h.last.event}</code> {h.last.status}{h.last.error ? ` — ${h.last.error}` : ''} ({new Date(h.last.at * 1000).toLocaleString()}).</>}
          </p>
          <div class="form-actions">
            <Action class="btn" onClick={async () => {
              const r = await post(`/services/${s.id}/webhook/test`);
              toast(r.delivered ? 'The test event was delivered.' : `The test event was not delivered: ${r.error}`, r.delivered ? 'ok' : 'error');
              hook.reload();
            }}>Send a test</Action>
            <Confirm question="Remove the webhook?" label="Remove" onConfirm={async () => { await del(`/services/${s.id}/webhook`); hook.reload(); }}>Remove</Confirm>
          </div>
        </div>
      )}
    </Card>
  );
}

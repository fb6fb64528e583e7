// Player links and embed snippets, with a live preview of the embed.
import { useState } from 'preact/hooks';
import { Card, Copy, Field } from '../../components.jsx';

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
      </div>
    </div>
  );
}

// Extra mounts of a station: other formats and bitrates transcoded from the primary.
import { get, post, del } from '../../api.js';
import { Card, Confirm, Empty, ErrorBox, Form, Field, Badge, Copy, useLoad, useToast } from '../../components.jsx';

export function Mounts({ service: s }) {
  const mounts = useLoad(() => get(`/services/${s.id}/mounts`), [s.id]);
  const toast = useToast();
  const items = mounts.data ? mounts.data.items : [];
  const base = s.urls.listen ? s.urls.listen.replace(/\/[^/]*$/, '') : '';
  return (
    <>
      <Card title="Mounts">
        <ErrorBox error={mounts.error} />
        {mounts.data && items.length === 0 && <Empty>No mounts.</Empty>}
        {items.length > 0 && (
          <table class="table">
            <thead><tr><th>Mount</th><th>Format</th><th>Listeners</th><th>Address</th><th><span class="sr-only">Actions</span></th></tr></thead>
            <tbody>
              {items.map((m) => (
                <tr key={m.path}>
                  <td><code>{m.path}</code> {m.primary && <Badge>primary</Badge>} {m.live && <Badge kind="live">live</Badge>}</td>
                  <td>{m.format ? `${m.format.toUpperCase()} ${m.bitrate_kbps} kbit/s` : 'as the source sends'}{m.fallback ? `, falls back to ${m.fallback}` : ''}</td>
                  <td>{m.listeners}</td>
                  <td><Copy value={`${base}${m.path}`} /></td>
                  <td class="row-actions">{!m.primary && <Confirm question={`Delete ${m.path}?`} label="Delete" onConfirm={async () => { await del(`/services/${s.id}/mounts/${m.name}`); toast(`Deleted ${m.path}.`); mounts.reload(); }}>Delete</Confirm>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Card>
      <Card title="Add a mount">
        <Form reset submit="Add mount" onSubmit={async (v) => {
          await post(`/services/${s.id}/mounts`, { path: v.path, format: v.format, bitrate_kbps: Number(v.bitrate) });
          toast(`Added /${v.path.replace(/^\//, '')}.`);
          mounts.reload();
        }}>
          <div class="grid3">
            <Field label="Path" hint={`Listeners use ${base}/<path>`}><input name="path" required maxLength={63} placeholder={`${s.slug}-aac`} /></Field>
            <Field label="Format"><select name="format"><option value="mp3">MP3</option><option value="aac">AAC</option><option value="opus">Opus</option></select></Field>
            <Field label="Bitrate (kbit/s)"><input name="bitrate" type="number" min="8" max={s.limits.max_bitrate_kbps} defaultValue="64" /></Field>
          </div>
        </Form>
      </Card>
    </>
  );
}

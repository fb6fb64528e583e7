import { useState } from 'preact/hooks';
import { get, post } from '../api.js';
import { navigate } from '../router.js';
import { Card, Form, Field, LiveBadge, Empty, ErrorBox, useLoad, useToast } from '../components.jsx';

export function Services({ me }) {
  const { data, error, reload } = useLoad(() => get('/services?limit=500'));
  const users = useLoad(() => (me.role === 'customer' ? Promise.resolve(null) : get('/users?limit=500')));
  const [creating, setCreating] = useState(false);
  const owners = users.data ? Object.fromEntries(users.data.items.map((u) => [u.id, u.username])) : {};
  return (
    <div class="page">
      <div class="page-head">
        <h1>Services</h1>
        <button type="button" class="btn primary" onClick={() => setCreating(!creating)} aria-expanded={creating}>{creating ? 'Close' : 'New service'}</button>
      </div>
      {creating && <NewService me={me} customers={users.data ? users.data.items.filter((u) => u.role === 'customer') : []} onCreated={(s) => { reload(); navigate(`/services/${s.id}`); }} />}
      <ErrorBox error={error} />
      {data && (data.items.length === 0 ? <Empty>No services yet.</Empty> : (
        <table class="table">
          <thead><tr><th>Name</th><th>Kind</th>{me.role !== 'customer' && <th>Owner</th>}<th>Status</th><th>Address</th></tr></thead>
          <tbody>
            {data.items.map((s) => (
              <tr key={s.id}>
                <td><a href={`#/services/${s.id}`}>{s.name}</a></td>
                <td>{s.kind === 'radio' ? 'Radio' : 'Video'}</td>
                {me.role !== 'customer' && <td>{owners[s.owner] || `#${s.owner}`}</td>}
                <td><LiveBadge onAir={s.on_air} suspended={s.status === 'suspended'} /></td>
                <td><code>{s.slug}</code></td>
              </tr>
            ))}
          </tbody>
        </table>
      ))}
    </div>
  );
}

function NewService({ me, customers, onCreated }) {
  const toast = useToast();
  const customer = me.role === 'customer';
  const submit = async (v) => {
    const body = { name: v.name, kind: v.kind };
    if (v.slug) body.slug = v.slug;
    if (!customer) {
      body.owner = Number(v.owner);
      const limits = {};
      for (const k of ['max_listeners', 'max_bitrate_kbps', 'disk_quota_mb', 'dvr_minutes']) if (v[k] !== '') limits[k] = Number(v[k]);
      limits.transcode = v.transcode;
      limits.autodj = v.autodj;
      body.limits = limits;
    }
    const s = await post('/services', body);
    toast(`Created ${s.name}.`);
    onCreated(s);
  };
  if (!customer && customers.length === 0) {
    return <Card title="New service"><Empty>Create a customer first (<a href="#/users">{me.role === 'admin' ? 'Users' : 'Customers'}</a>): every service belongs to one.</Empty></Card>;
  }
  return (
    <Card title="New service">
      <Form onSubmit={submit} submit="Create service">
        <div class="grid2">
          <Field label="Name"><input name="name" required maxLength={100} placeholder="Morning FM" /></Field>
          <Field label="Kind">
            <select name="kind"><option value="radio">Radio station (Icecast, AutoDJ)</option><option value="video">Video channel (RTMP, HLS)</option></select>
          </Field>
          <Field label="Address (optional)" hint="Lowercase letters, digits and hyphens; made from the name if empty."><input name="slug" maxLength={63} pattern="[a-z0-9][a-z0-9-]*[a-z0-9]" /></Field>
          {!customer && (
            <Field label="Owner">
              <select name="owner" required>{customers.map((c) => <option key={c.id} value={c.id}>{c.username}</option>)}</select>
            </Field>
          )}
        </div>
        {!customer && (
          <fieldset class="grid3">
            <legend>Limits (empty: the default for the kind)</legend>
            <Field label="Max listeners"><input name="max_listeners" type="number" min="0" /></Field>
            <Field label="Max bitrate (kbit/s)"><input name="max_bitrate_kbps" type="number" min="8" /></Field>
            <Field label="Disk quota (MB)"><input name="disk_quota_mb" type="number" min="0" /></Field>
            <Field label="DVR minutes"><input name="dvr_minutes" type="number" min="0" /></Field>
            <label class="check"><input type="checkbox" name="transcode" /> Transcoding</label>
            <label class="check"><input type="checkbox" name="autodj" defaultChecked /> AutoDJ</label>
          </fieldset>
        )}
      </Form>
    </Card>
  );
}

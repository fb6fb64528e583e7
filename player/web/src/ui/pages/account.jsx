// The user's own account: password and API keys.
import { useState } from 'preact/hooks';
import { get, post, patch, del } from '../api.js';
import { Card, Confirm, Copy, Empty, ErrorBox, Form, Field, useLoad, useToast } from '../components.jsx';

export function Account({ me }) {
  const keys = useLoad(() => get('/api-keys?limit=1000'));
  const [made, setMade] = useState(null);
  const toast = useToast();
  return (
    <div class="page">
      <h1>Your account</h1>
      <Card title="Password">
        <Form reset submit="Change password" onSubmit={async (v) => {
          if (v.password !== v.again) throw new Error('The two passwords differ.');
          const done = await patch(`/users/${me.id}`, { password: v.password, current_password: v.current_password, revoke_api_keys: v.revoke_api_keys });
          const ended = `${done.sessions_ended} other login${done.sessions_ended === 1 ? '' : 's'} ended`;
          toast(v.revoke_api_keys
            ? `Password changed; ${ended} and ${done.api_keys_revoked} API key${done.api_keys_revoked === 1 ? '' : 's'} revoked.`
            : `Password changed; ${ended}. Your API keys still work.`);
          if (v.revoke_api_keys) { setMade(null); keys.reload(); }
        }}>
          <Field label="Current password"><input name="current_password" type="password" required maxLength={1024} autocomplete="current-password" /></Field>
          <div class="grid2">
            <Field label="New password" hint="At least 8 characters"><input name="password" type="password" required minLength={8} maxLength={1024} autocomplete="new-password" /></Field>
            <Field label="Again"><input name="again" type="password" required minLength={8} maxLength={1024} autocomplete="new-password" /></Field>
          </div>
          <label class="check"><input name="revoke_api_keys" type="checkbox" /> Also revoke all my API keys (scripts and billing systems that use them stop working)</label>
          <p class="muted">Your other logins end either way; this one stays.</p>
        </Form>
      </Card>
      <Card title="API keys" >
        <p class="muted">For scripts and billing systems: send <code>Authorization: Bearer &lt;key&gt;</code> to <code>/api/v1</code>. A key can do what you can, except make keys or change your password.</p>
        <Form reset submit="Create key" onSubmit={async (v) => { const k = await post('/api-keys', { name: v.name }); setMade(k.key); keys.reload(); }}>
          <Field label="Name"><input name="name" required maxLength={100} placeholder="WHMCS" /></Field>
        </Form>
        {made && <div class="created"><p>Copy it now: it is shown only once.</p><Copy label="New key" value={made} /></div>}
        <ErrorBox error={keys.error} />
        {keys.data && keys.data.items.length === 0 && <Empty>No keys.</Empty>}
        {keys.data && keys.data.items.length > 0 && (
          <table class="table">
            <thead><tr><th>Name</th><th>Created</th><th>Last used</th><th><span class="sr-only">Actions</span></th></tr></thead>
            <tbody>
              {keys.data.items.filter((k) => !k.revoked_at).map((k) => (
                <tr key={k.id}><td>{k.name}</td><td>{new Date(k.created_at).toLocaleDateString()}</td><td>{k.last_used_at ? new Date(k.last_used_at).toLocaleString() : 'never'}</td>
                  <td class="row-actions"><Confirm question={`Revoke ${k.name}?`} label="Revoke" onConfirm={async () => { await del(`/api-keys/${k.id}`); toast(`Revoked ${k.name}.`); keys.reload(); }}>Revoke</Confirm></td></tr>
              ))}
            </tbody>
          </table>
        )}
      </Card>
    </div>
  );
}

// Users (admins) or customers (resellers): create, reset a password, log in as, delete.
import { useState } from 'preact/hooks';
import { get, post, patch, del } from '../api.js';
import { Card, Confirm, Action, Empty, ErrorBox, Form, Field, Badge, useLoad, useToast } from '../components.jsx';

export function Users({ me }) {
  const users = useLoad(() => get('/users?limit=1000'));
  const plans = useLoad(() => (me.role === 'admin' ? get('/reseller-plans?limit=1000') : Promise.resolve({ items: [] })));
  const [resetting, setResetting] = useState(null);
  const toast = useToast();
  const admin = me.role === 'admin';
  const loginAs = async (u) => {
    await post(`/users/${u.id}/login-as`);
    // The session cookie is now the customer's: start the UI again as them.
    location.hash = '#/';
    location.reload();
  };
  return (
    <div class="page">
      <h1>{admin ? 'Users' : 'Customers'}</h1>
      <Card title={admin ? 'New user' : 'New customer'}>
        <Form reset submit="Create" onSubmit={async (v) => {
          const body = { username: v.username, password: v.password, role: admin ? v.role : 'customer' };
          if (v.email) body.email = v.email;
          if (admin && v.role === 'reseller' && v.plan) body.plan = Number(v.plan);
          const u = await post('/users', body);
          toast(`Created ${u.role} ${u.username}.`);
          users.reload();
        }}>
          <div class="grid3">
            <Field label="Username"><input name="username" required maxLength={64} autocomplete="off" /></Field>
            <Field label="Password" hint="At least 8 characters"><input name="password" type="password" required minLength={8} maxLength={1024} autocomplete="new-password" /></Field>
            <Field label="Email (optional)"><input name="email" type="email" maxLength={254} /></Field>
            {admin && <Field label="Role"><select name="role"><option value="customer">Customer</option><option value="reseller">Reseller</option><option value="admin">Admin</option></select></Field>}
            {admin && plans.data && plans.data.items.length > 0 && (
              <Field label="Reseller plan" hint="For resellers; none is unlimited">
                <select name="plan"><option value="">None</option>{plans.data.items.map((p) => <option key={p.id} value={p.id}>{p.name}</option>)}</select>
              </Field>
            )}
          </div>
        </Form>
      </Card>
      <Card title="All">
        <ErrorBox error={users.error} />
        {users.data && users.data.items.length === 0 && <Empty>No users yet.</Empty>}
        {users.data && users.data.items.length > 0 && (
          <table class="table">
            <thead><tr><th>Username</th><th>Role</th><th>Email</th><th>Created</th><th><span class="sr-only">Actions</span></th></tr></thead>
            <tbody>
              {users.data.items.map((u) => (
                <tr key={u.id}>
                  <td>{u.username} {u.id === me.id && <Badge>you</Badge>}</td>
                  <td>{u.role}{u.reseller ? <small class="muted"> of reseller #{u.reseller}</small> : ''}</td>
                  <td>{u.email || <span class="muted">—</span>}</td>
                  <td>{new Date(u.created_at).toLocaleDateString()}</td>
                  <td class="row-actions">
                    {u.id !== me.id && <button type="button" class="btn small" onClick={() => setResetting(resetting === u.id ? null : u.id)}>Reset password</button>}
                    {u.id !== me.id && u.role !== 'admin' && <Action class="btn small" onClick={() => loginAs(u)} title="Opens a 2-hour session as this user; written to the audit log">Log in as</Action>}
                    {u.id !== me.id && <Confirm question={`Delete ${u.username}?`} label="Delete" onConfirm={async () => { await del(`/users/${u.id}`); toast(`Deleted ${u.username}.`); users.reload(); }}>Delete</Confirm>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {resetting && (
          <Form reset submit="Set password" onSubmit={async (v) => {
            await patch(`/users/${resetting}`, { password: v.password });
            toast('Password changed; their other sessions still work until they log out.');
            setResetting(null);
          }} extra={<button type="button" class="btn" onClick={() => setResetting(null)}>Cancel</button>}>
            <Field label={`New password for ${users.data.items.find((u) => u.id === resetting)?.username}`}><input name="password" type="password" required minLength={8} maxLength={1024} autocomplete="new-password" /></Field>
          </Form>
        )}
      </Card>
    </div>
  );
}

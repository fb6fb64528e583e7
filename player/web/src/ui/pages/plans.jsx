// Reseller plans (admins): how many customers, services, listeners and MB a reseller may hand out.
import { get, post, del } from '../api.js';
import { Card, Confirm, Empty, ErrorBox, Form, Field, useLoad, useToast } from '../components.jsx';

const num = (v) => (v === '' || v == null ? null : Number(v));
const show = (v) => (v == null ? 'no limit' : v);

export function Plans() {
  const plans = useLoad(() => get('/reseller-plans?limit=1000'));
  const toast = useToast();
  return (
    <div class="page">
      <h1>Reseller plans</h1>
      <Card title="New plan">
        <Form reset submit="Create plan" onSubmit={async (v) => {
          await post('/reseller-plans', { name: v.name, max_customers: num(v.max_customers), max_services: num(v.max_services), max_listeners: num(v.max_listeners), max_disk_mb: num(v.max_disk_mb) });
          toast(`Created ${v.name}.`);
          plans.reload();
        }}>
          <div class="grid3">
            <Field label="Name"><input name="name" required maxLength={100} /></Field>
            <Field label="Customers" hint="Empty: no limit"><input name="max_customers" type="number" min="0" /></Field>
            <Field label="Services"><input name="max_services" type="number" min="0" /></Field>
            <Field label="Listeners in total"><input name="max_listeners" type="number" min="0" /></Field>
            <Field label="Disk in total (MB)"><input name="max_disk_mb" type="number" min="0" /></Field>
          </div>
        </Form>
      </Card>
      <Card title="Plans">
        <ErrorBox error={plans.error} />
        {plans.data && plans.data.items.length === 0 && <Empty>No plans: resellers without one are unlimited.</Empty>}
        {plans.data && plans.data.items.length > 0 && (
          <table class="table">
            <thead><tr><th>Name</th><th>Customers</th><th>Services</th><th>Listeners</th><th>Disk MB</th><th><span class="sr-only">Actions</span></th></tr></thead>
            <tbody>
              {plans.data.items.map((p) => (
                <tr key={p.id}>
                  <td>{p.name}</td><td>{show(p.max_customers)}</td><td>{show(p.max_services)}</td><td>{show(p.max_listeners)}</td><td>{show(p.max_disk_mb)}</td>
                  <td class="row-actions"><Confirm question={`Delete ${p.name}?`} label="Delete" onConfirm={async () => { await del(`/reseller-plans/${p.id}`); plans.reload(); }}>Delete</Confirm></td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Card>
    </div>
  );
}

import { get, put } from '../api.js';
import { Card, ErrorBox, Form, Field, useLoad, useToast } from '../components.jsx';

export function SettingsPage({ onSaved }) {
  const s = useLoad(() => get('/settings'));
  const toast = useToast();
  if (s.error) return <ErrorBox error={s.error} />;
  if (!s.data) return <p aria-busy="true">Loading…</p>;
  return (
    <div class="page">
      <h1>System settings</h1>
      <Card>
        <Form submit="Save settings" onSubmit={async (v) => {
          const saved = await put('/settings', { site_name: v.site_name, customers_create_services: v.customers_create_services });
          toast('Settings saved.');
          onSaved(saved);
        }}>
          <Field label="Site name" hint="Shown in the header and the browser tab"><input name="site_name" defaultValue={s.data.site_name} required maxLength={100} /></Field>
          <label class="check"><input type="checkbox" name="customers_create_services" defaultChecked={s.data.customers_create_services} /> Customers may create their own services (with the default limits; a reseller's plan still applies)</label>
        </Form>
      </Card>
    </div>
  );
}

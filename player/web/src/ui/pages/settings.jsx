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
          const saved = await put('/settings', { site_name: v.site_name, customers_create_services: v.customers_create_services, stats_retention_days: Number(v.stats_retention_days) });
          toast('Settings saved.');
          onSaved(saved);
        }}>
          <Field label="Site name" hint="Shown in the header and the browser tab"><input name="site_name" defaultValue={s.data.site_name} required maxLength={100} /></Field>
          <label class="check"><input type="checkbox" name="customers_create_services" defaultChecked={s.data.customers_create_services} /> Customers may create their own services (with the default limits; a reseller's plan still applies)</label>
          <Field label="Keep statistics for (days)" hint="Listener sessions, track plays and hourly statistics older than this are deleted: 35 to 730 days"><input name="stats_retention_days" type="number" min="35" max="730" defaultValue={s.data.stats_retention_days} required /></Field>
        </Form>
      </Card>
    </div>
  );
}

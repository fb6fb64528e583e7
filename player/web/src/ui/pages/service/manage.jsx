// Admins and resellers: a service's limits, suspension and deletion.
import { patch, post, del } from '../../api.js';
import { navigate } from '../../router.js';
import { Card, Confirm, Action, Form, Field, useToast } from '../../components.jsx';

export function Manage({ service: s, reload }) {
  const toast = useToast();
  const l = s.limits;
  return (
    <>
      <Card title="Limits">
        <Form submit="Save limits" onSubmit={async (v) => {
          await patch(`/services/${s.id}`, { name: v.name, limits: {
            max_listeners: Number(v.max_listeners), max_bitrate_kbps: Number(v.max_bitrate_kbps),
            disk_quota_mb: Number(v.disk_quota_mb), dvr_minutes: Number(v.dvr_minutes), transcode: v.transcode, autodj: v.autodj,
            transfer_gb: Number(v.transfer_gb), transfer_action: v.transfer_action,
          } });
          toast('Saved.');
          reload();
        }}>
          <div class="grid3">
            <Field label="Name"><input name="name" defaultValue={s.name} required maxLength={100} /></Field>
            <Field label="Max listeners"><input name="max_listeners" type="number" min="0" defaultValue={l.max_listeners} /></Field>
            <Field label="Max bitrate (kbit/s)"><input name="max_bitrate_kbps" type="number" min="8" defaultValue={l.max_bitrate_kbps} /></Field>
            <Field label="Disk quota (MB)"><input name="disk_quota_mb" type="number" min="0" defaultValue={l.disk_quota_mb} /></Field>
            <Field label="DVR minutes"><input name="dvr_minutes" type="number" min="0" defaultValue={l.dvr_minutes} /></Field>
            <Field label="Transfer per month (GB)" hint="0: no limit"><input name="transfer_gb" type="number" min="0" step="any" defaultValue={l.transfer_gb} /></Field>
            <Field label="Past the transfer limit">
              <select name="transfer_action" defaultValue={l.transfer_action}>
                <option value="report">Report it</option>
                <option value="suspend">Suspend until the month ends</option>
              </select>
            </Field>
            <label class="check"><input type="checkbox" name="transcode" defaultChecked={l.transcode} /> Transcoding</label>
            <label class="check"><input type="checkbox" name="autodj" defaultChecked={l.autodj} /> AutoDJ</label>
          </div>
        </Form>
      </Card>
      <Card title="Status">
        <div class="row">
          {s.status === 'suspended'
            ? <Action class="btn primary" onClick={async () => { await post(`/services/${s.id}/unsuspend`); reload(); }} done="Service unsuspended.">Unsuspend</Action>
            : <Confirm question="Suspending drops the live source and all listeners. Suspend?" label="Suspend" onConfirm={async () => { await post(`/services/${s.id}/suspend`); toast('Service suspended.'); reload(); }}>Suspend</Confirm>}
          <Confirm question={`Delete ${s.name} with its settings, DJs and playlists? This cannot be undone.`} label="Delete for good" onConfirm={async () => { await del(`/services/${s.id}`); toast(`Deleted ${s.name}.`); navigate('/services'); }}>Delete service</Confirm>
        </div>
      </Card>
    </>
  );
}

import { get, post, del } from '../api.js';
import { Card, Confirm, Empty, ErrorBox, Form, Field, Badge, useLoad, useToast } from '../components.jsx';

export function Announcements() {
  const list = useLoad(() => get('/announcements'));
  const toast = useToast();
  return (
    <div class="page">
      <h1>Announcements</h1>
      <Card title="Announce">
        <Form reset submit="Publish" onSubmit={async (v) => {
          await post('/announcements', { message: v.message, level: v.level });
          toast('Published: everyone sees it on their dashboard.');
          list.reload();
        }}>
          <Field label="Message" hint="Shown on every user's dashboard, as plain text"><textarea name="message" required maxLength={2000} rows={3} /></Field>
          <Field label="Kind"><select name="level"><option value="info">News</option><option value="warning">Important (maintenance, outage)</option></select></Field>
        </Form>
      </Card>
      <Card title="Published">
        <ErrorBox error={list.error} />
        {list.data && list.data.items.length === 0 && <Empty>Nothing announced.</Empty>}
        {list.data && list.data.items.map((a) => (
          <div key={a.id} class="announcement-row">
            <Badge kind={a.level === 'warning' ? 'warn' : 'muted'}>{a.level}</Badge>
            <span class="announcement-text">{a.message}</span>
            <small>{new Date(a.created_at).toLocaleString()}</small>
            <Confirm question="Withdraw it?" label="Withdraw" onConfirm={async () => { await del(`/announcements/${a.id}`); list.reload(); }}>Withdraw</Confirm>
          </div>
        ))}
      </Card>
    </div>
  );
}

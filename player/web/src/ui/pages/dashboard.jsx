import { get } from '../api.js';
import { Card, Stat, Badge, LiveBadge, Empty, ErrorBox, useLoad, useInterval } from '../components.jsx';
import { bytes, duration, plural } from '../format.js';

export function Dashboard({ me }) {
  return (
    <div class="page">
      <h1>Dashboard</h1>
      <AnnouncementList />
      {me.role === 'admin' && <SystemCard />}
      {me.role === 'reseller' && <ResellerUsage />}
      <ServicesSummary me={me} />
    </div>
  );
}

function AnnouncementList() {
  const { data } = useLoad(() => get('/announcements'));
  if (!data || !data.items.length) return null;
  return (
    <div class="announcements">
      {data.items.slice(0, 5).map((a) => (
        <div key={a.id} class={`announcement announcement-${a.level}`} role="note">
          <strong>{a.level === 'warning' ? 'Important' : 'News'}</strong> {a.message}
          <small>{new Date(a.created_at).toLocaleDateString()}</small>
        </div>
      ))}
    </div>
  );
}

function SystemCard() {
  const { data, error, reload } = useLoad(() => get('/system'));
  useInterval(reload, 10_000);
  if (error) return <ErrorBox error={error} />;
  if (!data) return <Card title="Server"><p aria-busy="true">Measuring…</p></Card>;
  const s = data.server;
  const memUsed = s.memory_total_bytes != null ? s.memory_total_bytes - s.memory_available_bytes : null;
  const diskUsed = s.disk_total_bytes != null ? s.disk_total_bytes - s.disk_free_bytes : null;
  return (
    <>
      <div class="stats-row">
        <Stat label="Services on air" value={`${data.live} / ${data.services}`} />
        <Stat label="Listeners and viewers now" value={data.listeners} />
        <Stat label="CPU" value={s.cpu_percent != null ? `${s.cpu_percent}%` : '—'} sub={`${plural(s.cores, 'core')}, load ${s.load_1m ?? '—'}`} />
        <Stat label="Memory" value={memUsed != null ? bytes(memUsed) : '—'} sub={`of ${bytes(s.memory_total_bytes)}; Tidecast ${bytes(s.process_rss_bytes)}`} />
        <Stat label="Disk" value={diskUsed != null ? bytes(diskUsed) : '—'} sub={`${bytes(s.disk_free_bytes)} free`} />
        <Stat label="Up for" value={duration(data.uptime_s)} sub={`version ${data.version}`} />
      </div>
      <Card title="Problems">
        {data.problems.length === 0 ? <Empty>Nothing needs attention.</Empty> : (
          <ul class="problems">
            {data.problems.map((p, i) => (
              <li key={i}><Badge kind={p.kind === 'suspended' ? 'muted' : 'warn'}>{p.kind.replace('_', ' ')}</Badge> <a href={`#/services/${p.service}`}>{p.name}</a>: {p.message}</li>
            ))}
          </ul>
        )}
      </Card>
    </>
  );
}

function ResellerUsage() {
  const { data, error } = useLoad(() => get('/me/usage'));
  if (error) return <ErrorBox error={error} />;
  if (!data) return null;
  const p = data.plan;
  const of = (used, max, unit = '') => (max == null ? `${used}${unit} (no limit)` : `${used}${unit} of ${max}${unit}`);
  const meter = (used, max) => (max ? <meter min="0" max={max} value={used} low={max * 0.7} high={max * 0.9} optimum={0} /> : null);
  return (
    <Card title={p ? `Your plan: ${p.name}` : 'Your plan: unlimited'}>
      <div class="stats-row">
        <Stat label="Customers" value={of(data.customers, p && p.max_customers)} sub={meter(data.customers, p && p.max_customers)} />
        <Stat label="Services" value={of(data.services, p && p.max_services)} sub={meter(data.services, p && p.max_services)} />
        <Stat label="Listener slots" value={of(data.listeners, p && p.max_listeners)} sub={meter(data.listeners, p && p.max_listeners)} />
        <Stat label="Disk" value={of(data.disk_mb, p && p.max_disk_mb, ' MB')} sub={meter(data.disk_mb, p && p.max_disk_mb)} />
      </div>
    </Card>
  );
}

function ServicesSummary({ me }) {
  const { data, error, reload } = useLoad(() => get('/services?limit=200'));
  useInterval(reload, 15_000);
  if (error) return <ErrorBox error={error} />;
  if (!data) return null;
  return (
    <Card title={me.role === 'customer' ? 'Your services' : 'Services'} actions={<a class="btn" href="#/services">All services</a>}>
      {data.items.length === 0 ? (
        <Empty>{me.role === 'customer' ? 'You have no services yet. ' : 'No services yet. '}<a href="#/services">Create one</a>.</Empty>
      ) : (
        <ul class="service-tiles">
          {data.items.map((s) => (
            <li key={s.id}>
              <a href={`#/services/${s.id}`} class="service-tile">
                <span class={`kind kind-${s.kind}`}>{s.kind === 'radio' ? 'Radio' : 'Video'}</span>
                <strong>{s.name}</strong>
                <LiveBadge onAir={s.on_air} suspended={s.status === 'suspended'} />
              </a>
            </li>
          ))}
        </ul>
      )}
    </Card>
  );
}

// One service: its tabs. Radio stations and video channels share the overview, media,
// embed and (for admins and resellers) manage tabs.
import { get } from '../api.js';
import { Tabs, ErrorBox, LiveBadge, useLoad, useInterval } from '../components.jsx';
import { Overview } from './service/overview.jsx';
import { Media } from './service/media.jsx';
import { Playlists } from './service/playlists.jsx';
import { Djs } from './service/djs.jsx';
import { Mounts } from './service/mounts.jsx';
import { Ladder } from './service/ladder.jsx';
import { Dvr } from './service/dvr.jsx';
import { Embed } from './service/embed.jsx';
import { Manage } from './service/manage.jsx';
import { Stats } from './service/stats.jsx';

export function ServicePage({ me, id, tab = 'overview' }) {
  const { data: s, error, reload } = useLoad(() => get(`/services/${id}`), [id]);
  useInterval(reload, 15_000);
  if (error) return <div class="page"><ErrorBox error={error.status === 404 ? new Error('There is no such service, or it is not yours.') : error} /><a href="#/services">Back to services</a></div>;
  if (!s) return <div class="page" aria-busy="true">Loading…</div>;
  const radio = s.kind === 'radio';
  const tabs = [
    ['overview', 'Overview'],
    ['stats', 'Statistics'],
    ['media', 'Media'],
    ...(radio ? [['playlists', 'Playlists'], ['djs', 'DJs'], ['mounts', 'Mounts']] : []),
    ['ladder', radio ? 'HLS' : 'Transcoding'],
    ...(!radio ? [['dvr', 'DVR']] : []),
    ['embed', 'Player & embed'],
    ...(me.role !== 'customer' ? [['manage', 'Manage']] : []),
  ];
  const current = tabs.some(([k]) => k === tab) ? tab : 'overview';
  const props = { me, service: s, reload };
  const pages = { overview: Overview, stats: Stats, media: Media, playlists: Playlists, djs: Djs, mounts: Mounts, ladder: Ladder, dvr: Dvr, embed: Embed, manage: Manage };
  const Page = pages[current];
  return (
    <div class="page">
      <div class="page-head">
        <div>
          <a class="crumb" href="#/services">Services</a>
          <h1>{s.name} <LiveBadge onAir={s.on_air} suspended={s.status === 'suspended'} /></h1>
        </div>
        <a class="btn" href={s.urls.player} target="_blank" rel="noopener">Open player</a>
      </div>
      <Tabs base={`/services/${id}`} tabs={tabs} current={current} />
      <Page {...props} />
    </div>
  );
}

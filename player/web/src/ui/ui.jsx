// The Tidecast control panel: one page, hash-routed, on the same REST API as every other
// client (cookie session + CSRF header).
import './ui.css';
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { get, post, setCsrf, onSessionLost } from './api.js';
import { useRoute, navigate } from './router.js';
import { ToastProvider } from './components.jsx';
import { Login } from './pages/login.jsx';
import { Dashboard } from './pages/dashboard.jsx';
import { Services } from './pages/services.jsx';
import { ServicePage } from './pages/service.jsx';
import { Users } from './pages/users.jsx';
import { Plans } from './pages/plans.jsx';
import { Announcements } from './pages/announcements.jsx';
import { SettingsPage } from './pages/settings.jsx';
import { Account } from './pages/account.jsx';

function App() {
  const [me, setMe] = useState(undefined); // undefined: starting; null: logged out
  const [notice, setNotice] = useState(null);
  const [site, setSite] = useState({ site_name: 'Tidecast' });

  useEffect(() => {
    // The page says who is logged in (from the session cookie): no request, no 401 noise.
    const boot = JSON.parse(document.getElementById('tc-config').textContent || '{}');
    if (boot.me) { setCsrf(boot.me.csrf || null); setMe(boot.me); } else setMe(null);
    return onSessionLost(() => {
      setCsrf(null);
      setMe((was) => {
        if (was) setNotice('Your session has expired or was ended. Log in again to continue.');
        return null;
      });
    });
  }, []);
  useEffect(() => {
    if (me) get('/settings').then(setSite, () => {});
  }, [me && me.id]);
  useEffect(() => { document.title = site.site_name; }, [site.site_name]);

  if (me === undefined) return <div class="loading-page" aria-busy="true">Loading…</div>;
  if (me === null) {
    return <Login notice={notice} onLogin={(u) => { setCsrf(u.csrf); setNotice(null); setMe(u.user); navigate('/'); }} />;
  }
  const logout = async () => {
    try { await post('/logout'); } catch { /* already gone */ }
    setCsrf(null);
    setMe(null);
    setNotice('You have logged out.');
    navigate('/');
  };
  return <Shell me={me} site={site} onLogout={logout} onSite={setSite} />;
}

function Shell({ me, site, onLogout, onSite }) {
  const route = useRoute();
  const [section, id] = route;
  const links = [
    ['', 'Dashboard'],
    ['services', 'Services'],
    ...(me.role !== 'customer' ? [['users', me.role === 'admin' ? 'Users' : 'Customers']] : []),
    ...(me.role === 'admin' ? [['plans', 'Reseller plans'], ['announcements', 'Announcements'], ['settings', 'Settings']] : []),
    ['account', 'Account'],
  ];
  const active = section || '';
  let page;
  if (!section) page = <Dashboard me={me} />;
  else if (section === 'services' && id) page = <ServicePage me={me} id={Number(id)} tab={route[2]} />;
  else if (section === 'services') page = <Services me={me} />;
  else if (section === 'users' && me.role !== 'customer') page = <Users me={me} />;
  else if (section === 'plans' && me.role === 'admin') page = <Plans />;
  else if (section === 'announcements' && me.role === 'admin') page = <Announcements />;
  else if (section === 'settings' && me.role === 'admin') page = <SettingsPage onSaved={onSite} />;
  else if (section === 'account') page = <Account me={me} />;
  else page = <div class="card"><h1>Not found</h1><p>There is no page here, or it is not yours to see. <a href="#/">Back to the dashboard</a>.</p></div>;
  return (
    <div class="shell">
      <header class="topbar">
        <a class="brand" href="#/"><svg viewBox="0 0 32 32" aria-hidden="true"><path d="M4 19c4 0 4-6 8-6s4 6 8 6 4-6 8-6" /></svg>{site.site_name}</a>
        <nav class="mainnav" aria-label="Main">
          {links.map(([key, label]) => (
            <a key={key} href={`#/${key}`} class={active === key ? 'active' : ''} aria-current={active === key ? 'page' : undefined}>{label}</a>
          ))}
        </nav>
        <div class="who">
          <span class="who-name" title={`Logged in as ${me.username} (${me.role})`}>{me.username} <small>{me.role}</small></span>
          <button type="button" class="btn small" onClick={onLogout}>Log out</button>
        </div>
      </header>
      {me.suspended && (
        <p class="suspended-banner" role="status">
          {me.suspended === 'reseller' ? 'Your reseller\'s account is suspended' : 'Your account is suspended'}: you can look around, but nothing can be changed until the suspension is lifted.
        </p>
      )}
      <main class="content" id="main">{page}</main>
    </div>
  );
}

render(<ToastProvider><App /></ToastProvider>, document.getElementById('app'));

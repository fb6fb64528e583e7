import { useState } from 'preact/hooks';
import { post } from '../api.js';
import { useBusy } from '../components.jsx';

export function Login({ onLogin, notice }) {
  const [error, setError] = useState(null);
  const [busy, run] = useBusy();
  const submit = (e) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    run(async () => {
      setError(null);
      try {
        onLogin(await post('/login', { username: f.get('username'), password: f.get('password'), cookie: true }));
      } catch (err) {
        setError(err.status === 401 ? 'Wrong username or password.' : err.message);
      }
    });
  };
  return (
    <main class="login">
      <form class="login-card" onSubmit={submit}>
        <div class="brand big"><svg viewBox="0 0 32 32" aria-hidden="true"><path d="M4 19c4 0 4-6 8-6s4 6 8 6 4-6 8-6" /></svg>Tidecast</div>
        <h1>Log in</h1>
        {notice && <p class="notice" role="status">{notice}</p>}
        <label class="field"><span class="field-label">Username</span>
          <input name="username" autocomplete="username" required maxLength={256} autofocus /></label>
        <label class="field"><span class="field-label">Password</span>
          <input name="password" type="password" autocomplete="current-password" required maxLength={1024} /></label>
        {error && <p class="form-error" role="alert">{error}</p>}
        <button class="btn primary wide" type="submit" disabled={busy}>{busy ? 'Logging in…' : 'Log in'}</button>
      </form>
    </main>
  );
}

// Hash routes (`#/services/3/media`): the server serves one page at `/`, so reloads and
// bookmarks work without server-side routing.
import { useEffect, useState } from 'preact/hooks';

export function currentPath() {
  const h = location.hash.replace(/^#/, '');
  return h.startsWith('/') ? h : '/';
}

export function navigate(path) {
  if (currentPath() !== path) location.hash = path;
}

export function useRoute() {
  const [path, setPath] = useState(currentPath());
  useEffect(() => {
    const on = () => setPath(currentPath());
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return path.split('/').filter(Boolean);
}

// The REST API as the UI uses it: the same /api/v1 every client uses, authenticated by the
// HttpOnly session cookie, with the CSRF header on every change.

let csrf = null;
const listeners = new Set();

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function setCsrf(value) { csrf = value; }

/** `fn()` runs when a request finds the session gone (expired, revoked, logged out). */
export function onSessionLost(fn) { listeners.add(fn); return () => listeners.delete(fn); }

export async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (csrf && method !== 'GET') headers['X-CSRF-Token'] = csrf;
  let r;
  try {
    r = await fetch(`/api/v1${path}`, {
      method, headers, credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'network', 'The server cannot be reached. Check your connection and try again.');
  }
  return answer(r, path);
}

async function answer(r, path) {
  if (r.status === 204) return null;
  let data = null;
  try { data = await r.json(); } catch { /* not JSON */ }
  if (r.ok) return data;
  const err = data && data.error;
  const e = new ApiError(r.status, err ? err.code : 'http', err ? err.message : `The server answered ${r.status}.`);
  if (r.status === 401 && path !== '/login') listeners.forEach((fn) => fn(e));
  throw e;
}

export const get = (p) => api('GET', p);
export const post = (p, b = {}) => api('POST', p, b);
export const put = (p, b) => api('PUT', p, b);
export const patch = (p, b) => api('PATCH', p, b);
export const del = (p) => api('DELETE', p);

/**
 * Uploads one file as multipart with progress (fetch cannot report upload progress, so
 * XMLHttpRequest). `onProgress(fraction)`; resolves to the API's answer; `abort()` on the
 * returned object cancels it.
 */
export function upload(path, file, folder, onProgress) {
  const xhr = new XMLHttpRequest();
  const done = new Promise((resolve, reject) => {
    xhr.open('POST', `/api/v1${path}`);
    xhr.setRequestHeader('Accept', 'application/json');
    if (csrf) xhr.setRequestHeader('X-CSRF-Token', csrf);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); };
    xhr.onload = () => {
      let data = null;
      try { data = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
      if (xhr.status >= 200 && xhr.status < 300) return resolve(data);
      const err = data && data.error;
      const e = new ApiError(xhr.status, err ? err.code : 'http', err ? err.message : `The server answered ${xhr.status}.`);
      if (xhr.status === 401) listeners.forEach((fn) => fn(e));
      reject(e);
    };
    xhr.onerror = () => reject(new ApiError(0, 'network', 'The upload was interrupted: the connection to the server broke.'));
    xhr.onabort = () => reject(new ApiError(0, 'aborted', 'The upload was cancelled.'));
    const form = new FormData();
    if (folder) form.append('folder', folder);
    form.append('file', file, file.name);
    xhr.send(form);
  });
  return { done, abort: () => xhr.abort() };
}

import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { createRealtime } from 'tabwire';
import { RealtimeProvider } from 'tabwire/react';
import { App } from './App';
import { realtimeUrl, scope } from './config';

async function getToken() {
  const res = await fetch(`${realtimeUrl}/dev/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...scope, ttlMs: 10 * 60_000 }),
  });
  if (!res.ok) throw new Error(`token request failed: ${res.status}`);
  return (await res.json()) as { token: string; expiresAt?: number };
}

// One client for the page's lifetime, created outside React: StrictMode's
// double mount cannot create a second one. `devtools` (on by default) also
// installs window.__realtimeState().
const rt = createRealtime({ url: realtimeUrl, scope, auth: { getToken } });

const root = document.getElementById('root');
if (!root) throw new Error('#root missing');
createRoot(root).render(
  <StrictMode>
    <RealtimeProvider client={rt}>
      <App />
    </RealtimeProvider>
  </StrictMode>,
);

import { createRealtime, type RealtimeEvent } from 'tabwire';
import { bindDomEvents, setRealtimePropertyFilter } from 'tabwire/vanilla';

// The dev server serves this page and the realtime endpoints on one origin.
const url = `${location.origin}/v2/realtime`;
const scope = { orgId: 'org_demo', userId: 'u_demo' };

async function getToken() {
  const res = await fetch(`${url}/dev/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...scope, ttlMs: 10 * 60_000 }),
  });
  return (await res.json()) as { token: string; expiresAt?: number };
}

const rt = createRealtime({ url, scope, auth: { getToken } });
const $ = (id: string) => document.getElementById(id) as HTMLElement;
let count = 0;

// Legacy pages listen to DOM events; bindDomEvents keeps them working.
bindDomEvents(rt, { services: ['tasks', 'activity'] });
for (const service of ['tasks', 'activity']) {
  window.addEventListener(`${service}-stream-events`, (e) => {
    for (const event of (e as CustomEvent<RealtimeEvent[]>).detail) {
      const li = document.createElement('li');
      li.textContent = `${event.service}#${event.seq} ${event.type} ${event.propertyId ?? ''} ${JSON.stringify(event.data)}`;
      $('events').prepend(li);
      while ($('events').childElementCount > 200) $('events').lastElementChild?.remove();
    }
    count += (e as CustomEvent<RealtimeEvent[]>).detail.length;
    $('count').textContent = String(count);
  });
}

($('filter') as HTMLSelectElement).addEventListener('change', (e) => {
  setRealtimePropertyFilter((e.target as HTMLSelectElement).value || null);
});
($('kill') as HTMLInputElement).addEventListener('change', (e) => {
  rt.setFlags({ emergencyDisable: (e.target as HTMLInputElement).checked });
});

const render = () => {
  const state = rt.getState();
  $('status').textContent = `${state.status}${state.transport ? ` · ${state.transport}` : ''}`;
  $('status').className = `badge ${state.status}`;
  $('leader').textContent = state.isLeader ? 'leader' : 'follower';
  $('state').textContent = JSON.stringify(state, null, 2);
};
rt.on('statechange', render);
render();

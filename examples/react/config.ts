// The dev server serves this page and the realtime endpoints on one origin.
export const realtimeUrl = `${location.origin}/v2/realtime`;
export const scope = { orgId: 'org_demo', userId: 'u_demo' };
/** How long a created task may wait for its echo before it is rolled back. */
export const ECHO_TIMEOUT_MS = 3000;

import { useRealtimeClient, useRealtimeState } from 'tabwire/react';

export function StatusBadge() {
  const status = useRealtimeState((s) => s.status);
  const transport = useRealtimeState((s) => s.transport);
  return (
    <span id="status" className={`badge ${status}`} data-status={status}>
      {status}
      {transport ? ` · ${transport}` : ''}
    </span>
  );
}

export function LeaderBadge() {
  const isLeader = useRealtimeState((s) => s.isLeader);
  return (
    <span id="leader" className="badge">
      {isLeader ? 'leader' : 'follower'}
    </span>
  );
}

/** Shown while realtime is off (kill switch, rollout, forbidden, auto-rollback). */
export function RealtimeOffNotice() {
  const status = useRealtimeState((s) => s.status);
  const reason = useRealtimeState((s) => s.disabledReason);
  if (status !== 'disabled') return null;
  return (
    <p id="fallback" className="fallback">
      Realtime off ({reason ?? 'disabled'}): the app falls back to its non-realtime path (polling, refetch on
      focus).
    </p>
  );
}

export function PropertyFilter(props: { value: string | null; onChange: (value: string | null) => void }) {
  return (
    <label>
      Property filter{' '}
      <select id="filter" value={props.value ?? ''} onChange={(e) => props.onChange(e.target.value || null)}>
        <option value="">all properties</option>
        <option value="prop_1">prop_1</option>
        <option value="prop_2">prop_2</option>
      </select>
    </label>
  );
}

/** The emergency kill switch: `setFlags` reaches every tab at once, so each one's checkbox follows. */
export function KillSwitch() {
  const rt = useRealtimeClient();
  const on = useRealtimeState((s) => s.flags.emergencyDisable);
  return (
    <label>
      <input
        id="kill"
        type="checkbox"
        checked={on}
        onChange={(e) => rt.setFlags({ emergencyDisable: e.target.checked })}
      />{' '}
      emergency disable (kill switch)
    </label>
  );
}

export function StatePanel() {
  const state = useRealtimeState();
  return (
    <>
      <h2>useRealtimeState()</h2>
      <pre id="state">{JSON.stringify(state, null, 2)}</pre>
    </>
  );
}

import { useState } from 'react';
import type { RealtimeEvent } from 'tabwire';
import { useRealtimePropertyFilter, useRealtimeService } from 'tabwire/react';
import {
  KillSwitch,
  LeaderBadge,
  PropertyFilter,
  RealtimeOffNotice,
  StatePanel,
  StatusBadge,
} from './panels';
import { type Task, TaskBoard } from './TaskBoard';

const MAX_EVENTS = 50;

/** Applies `tasks` events to the board: created and updated tasks keyed by `data.id`. */
function applyTaskEvents(tasks: Task[], events: RealtimeEvent[]): Task[] {
  let next = tasks;
  for (const event of events) {
    const data = event.data as { id?: unknown; title?: unknown } | null | undefined;
    if (typeof data?.id !== 'string') continue;
    const task: Task = {
      id: data.id,
      title: typeof data.title === 'string' ? data.title : data.id,
      propertyId: event.propertyId ?? null,
      seq: event.seq,
    };
    const at = next.findIndex((t) => t.id === task.id);
    next = at === -1 ? [task, ...next] : next.map((t, i) => (i === at ? task : t));
  }
  return next;
}

export function App() {
  const [propertyId, setPropertyId] = useState<string | null>(null);
  const [tasks, setTasks] = useState<Task[]>([]);
  const [events, setEvents] = useState<RealtimeEvent[]>([]);

  // This tab's events: only the selected property's (and unscoped ones) while a filter is set.
  useRealtimePropertyFilter(propertyId);
  useRealtimeService('tasks', (batch) => {
    setTasks((current) => applyTaskEvents(current, batch));
    setEvents((current) => [...batch].reverse().concat(current).slice(0, MAX_EVENTS));
  });

  return (
    <>
      <h1>
        tabwire React demo <StatusBadge /> <LeaderBadge />
      </h1>
      <p>
        One connection for every tab of this origin: open this page in a second tab and add a task in either.
      </p>
      <RealtimeOffNotice />
      <p>
        <PropertyFilter value={propertyId} onChange={setPropertyId} />
        <KillSwitch />
      </p>
      <div className="row">
        <div className="col">
          <TaskBoard tasks={tasks} propertyId={propertyId} />
        </div>
        <div className="col">
          <h2>
            Live events <span className="badge">{events.length}</span>
          </h2>
          <ul id="events">
            {events.map((e) => (
              <li key={`${e.service}#${e.seq}`}>
                {e.service}#{e.seq} {e.type} {e.propertyId ?? ''} {e.mutationId ? `(${e.mutationId})` : ''}
              </li>
            ))}
          </ul>
        </div>
        <div className="col">
          <StatePanel />
        </div>
      </div>
    </>
  );
}

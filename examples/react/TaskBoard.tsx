import { type FormEvent, useState } from 'react';
import { useOptimisticMutation } from 'tabwire/react';
import { ECHO_TIMEOUT_MS, realtimeUrl, scope } from './config';

export interface Task {
  id: string;
  title: string;
  propertyId: string | null;
  seq?: number;
}

interface NewTask {
  id: string;
  title: string;
  propertyId: string | null;
}

/**
 * The tasks from the stream, plus this tab's optimistic ones (greyed until
 * their echo arrives, removed again if it does not come in time).
 */
export function TaskBoard({ tasks, propertyId }: { tasks: Task[]; propertyId: string | null }) {
  const [optimistic, setOptimistic] = useState<Task[]>([]);
  const [title, setTitle] = useState('');
  const [loseWrite, setLoseWrite] = useState(false);
  const [notice, setNotice] = useState('');

  const { mutate, pending } = useOptimisticMutation<NewTask>({
    timeoutMs: ECHO_TIMEOUT_MS,
    apply: (task) => {
      setOptimistic((list) => [task, ...list]);
      // The undo: drop the optimistic row (on timeout, error or cancel).
      return () => setOptimistic((list) => list.filter((t) => t.id !== task.id));
    },
    // The stream's copy is on the board now: the optimistic row goes.
    onVisible: (task) => setOptimistic((list) => list.filter((t) => t.id !== task.id)),
    rollback: (task, _id, reason) => {
      if (reason !== 'cancelled') setNotice(`"${task.title}" rolled back (${reason})`);
    },
    // The app's write. A real backend would copy the X-Realtime-Mutation-Id
    // header into the events it publishes; the dev server's publish endpoint
    // takes the event itself, so the id goes in the body as that backend would put it.
    mutate: async (task, { mutationId, init }) => {
      if (loseWrite) return; // "simulate lost write": never sent, so no echo; rolled back on timeout.
      const res = await fetch(
        `${realtimeUrl}/dev/publish`,
        init({
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            orgId: scope.orgId,
            event: {
              service: 'tasks',
              entityType: 'task',
              type: 'task.created',
              propertyId: task.propertyId,
              mutationId,
              data: { id: task.id, title: task.title },
            },
          }),
        }),
      );
      if (!res.ok) throw new Error(`publish failed: ${res.status}`);
    },
  });

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const clean = title.trim();
    if (!clean) return;
    setTitle('');
    setNotice('');
    void mutate({ id: `task_${Math.random().toString(36).slice(2, 10)}`, title: clean, propertyId });
  };

  const shown = new Set(tasks.map((t) => t.id));
  return (
    <>
      <h2>
        Tasks <span className="badge">{tasks.length}</span>{' '}
        {pending > 0 && <span className="badge">{pending} waiting for echo</span>}
      </h2>
      <form onSubmit={submit}>
        <input id="title" value={title} placeholder="New task" onChange={(e) => setTitle(e.target.value)} />{' '}
        <button id="add" type="submit">
          Add task
        </button>{' '}
        <label>
          <input
            id="lose-write"
            type="checkbox"
            checked={loseWrite}
            onChange={(e) => setLoseWrite(e.target.checked)}
          />{' '}
          simulate lost write (rolls back after {ECHO_TIMEOUT_MS / 1000} s)
        </label>
      </form>
      {notice && (
        <p id="notice" className="notice">
          {notice}
        </p>
      )}
      <ul id="tasks">
        {optimistic
          .filter((t) => !shown.has(t.id))
          .map((t) => (
            <li
              key={t.id}
              data-task-id={t.id}
              data-pending="true"
              className="pending"
              title="waiting for its echo"
            >
              {t.title}
            </li>
          ))}
        {tasks.map((t) => (
          <li key={t.id} data-task-id={t.id}>
            {t.title} <small>{t.propertyId ?? ''}</small>
          </li>
        ))}
      </ul>
    </>
  );
}

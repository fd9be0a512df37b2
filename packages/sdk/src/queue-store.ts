import type { QueuedMessage, QueueStore } from './realtime';

/** Keeps the offline queue in memory only (lost with the process). */
export function memoryQueue(initial: QueuedMessage[] = []): QueueStore {
  let items = [...initial];
  return {
    load: () => [...items],
    save: (next) => {
      items = [...next];
    },
  };
}

/** Keeps the offline queue in `localStorage` so unsent messages survive a reload. */
export function localStorageQueue(key = 'parley.outbox'): QueueStore {
  const storage = (globalThis as { localStorage?: Storage }).localStorage;
  return {
    load: () => {
      try {
        return storage ? (JSON.parse(storage.getItem(key) ?? '[]') as QueuedMessage[]) : [];
      } catch {
        return [];
      }
    },
    save: (items) => storage?.setItem(key, JSON.stringify(items)),
  };
}

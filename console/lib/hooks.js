// Data hooks shared by the screens.

import { useCallback, useEffect, useState } from '../vendor/htm-preact-standalone.mjs';
import { request } from './graphql.js';

/**
 * Runs a query and runs it again whenever its variables or `revision`
 * change (the organization's screens bump the revision on every live event).
 * While a new answer is on its way the previous data stays on screen, so a
 * live update does not flash the page. `skip` holds the query back.
 */
export function useQuery(query, variables, { revision = 0, skip = false } = {}) {
  const [state, setState] = useState({ data: null, error: null, loading: !skip });
  const key = JSON.stringify(variables);
  useEffect(() => {
    if (skip) return undefined;
    const controller = new AbortController();
    setState((previous) => ({ ...previous, loading: true }));
    request(query, JSON.parse(key), { signal: controller.signal }).then(
      (data) => setState({ data, error: null, loading: false }),
      (error) => {
        if (!controller.signal.aborted) setState((previous) => ({ ...previous, error, loading: false }));
      },
    );
    return () => controller.abort();
  }, [query, key, revision, skip]);
  return state;
}

/**
 * The state of a piece of work started by a person (a form, a button):
 * `run(work)` marks it busy and keeps the error it fails with, to show
 * beside what started it.
 */
export function useAction() {
  const [state, setState] = useState({ busy: false, error: null });
  const run = useCallback(async (work) => {
    setState({ busy: true, error: null });
    try {
      await work();
      setState({ busy: false, error: null });
    } catch (error) {
      setState({ busy: false, error });
    }
  }, []);
  return { ...state, run };
}

/**
 * Forward cursor pagination with a way back: the `after` cursors of the
 * pages already passed are kept, so "Previous" returns to exactly the page
 * that was shown (every orgql connection pages forward; not all page back).
 * A new `key` (other filters, another order) starts again from the first page.
 */
export function usePages(key = '') {
  const [state, setState] = useState({ key, trail: [] });
  const trail = state.key === key ? state.trail : [];
  return {
    after: trail.at(-1) ?? null,
    hasPrevious: trail.length > 0,
    next: (endCursor) => setState({ key, trail: [...trail, endCursor] }),
    previous: () => setState({ key, trail: trail.slice(0, -1) }),
  };
}

/** `value`, once it has stopped changing for `ms`: a search box queries as typing pauses, not per key. */
export function useDebounced(value, ms = 300) {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setSettled(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return settled;
}

// Talking to the view's server, and showing the store's problems (files skipped as unreadable) as a
// note above every page, so a damaged store gives a visible explanation rather than a blank page.
import { el, replace } from './dom.js';

/** An answer the server refused, with its message. */
export class ApiFailure extends Error {}

/** GETs `/api/<path>` with the non-empty `params`; resolves to the JSON body, throws ApiFailure. */
export async function getJson(path, params = {}) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') query.set(key, String(value));
  }
  const url = `/api/${path}${query.size > 0 ? `?${query}` : ''}`;
  let response;
  try {
    response = await fetch(url, { headers: { accept: 'application/json' } });
  } catch (error) {
    throw new ApiFailure(`The server did not answer (${error.message}). Is 'span-profiles view' still running?`);
  }
  let body;
  try {
    body = await response.json();
  } catch {
    throw new ApiFailure(`The server sent an unreadable answer (HTTP ${response.status}).`);
  }
  showProblems(body.problems);
  if (!response.ok) throw new ApiFailure(body.error || `HTTP ${response.status}`);
  return body;
}

/** Shows (or hides) the note listing what in the store could not be read. */
export function showProblems(problems) {
  const notes = document.getElementById('notes');
  if (!Array.isArray(problems) || problems.length === 0) {
    notes.hidden = true;
    replace(notes);
    return;
  }
  const missingStore = problems.length === 1 && /store directory/.test(problems[0].reason);
  const summary = missingStore
    ? `The store has no data yet: ${problems[0].reason}.`
    : `${problems.length} ${problems.length === 1 ? 'thing' : 'things'} in the store could not be read and ${problems.length === 1 ? 'was' : 'were'} skipped; everything else is shown.`;
  replace(
    notes,
    el(
      'details',
      { class: 'notes-details' },
      el('summary', {}, el('strong', { text: 'Note: ' }), summary),
      el(
        'ul',
        {},
        problems.map((p) => el('li', {}, el('code', { text: p.path }), ' — ', p.reason)),
      ),
      missingStore ? el('p', { text: 'Run your app with node --require @acme/span-profiles/register app.js, then refresh.' }) : null,
    ),
  );
  notes.hidden = false;
}

/** An error box for a page whose data could not be loaded. */
export function errorBox(error) {
  return el('div', { class: 'error-box', role: 'alert' }, el('strong', { text: 'Could not load this view. ' }), error.message);
}

/** The store's summary (services, names, time span); also shows the store's directory in the header. */
export async function getStore() {
  const store = await getJson('store');
  const dir = document.getElementById('store-dir');
  dir.textContent = store.dir;
  dir.title = `The store this page reads: ${store.dir}`;
  return store;
}

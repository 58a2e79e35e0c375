// Small building blocks every screen uses: labelled fields, errors, dialogs,
// page headings, pagers, badges.

import { h, html, useEffect, useMemo, useRef, useState } from '../vendor/htm-preact-standalone.mjs';
import { label } from '../lib/format.js';
import { useAction } from '../lib/hooks.js';

let lastId = 0;
/** An id unique in the page, stable across renders (for label/aria wiring). */
function useId(prefix = 'id') {
  return useMemo(() => `${prefix}-${++lastId}`, []);
}

/** A labelled control: <input> by default, `as="select"` with options as children. */
export function Field({ label: text, hint, as = 'input', children, ...props }) {
  const id = useId('field');
  const hintId = hint ? `${id}-hint` : undefined;
  return html`<div class="field">
    <label for=${id}>${text}</label>
    ${h(as, { id, 'aria-describedby': hintId, ...props }, children)}
    ${hint && html`<p class="hint" id=${hintId}>${hint}</p>`}
  </div>`;
}

/**
 * <option>s for enum values, labelled for people. `selected` is where an
 * uncontrolled <select> starts (a `value` prop would put it back there on
 * every render).
 */
export const options = (values, { text = label, selected } = {}) =>
  values.map((value) => html`<option key=${value} value=${value} selected=${value === selected}>${text(value)}</option>`);

/** An API error in plain words, announced, beside what caused it. */
export function ErrorText({ error }) {
  return error ? html`<p class="error" role="alert">${error.message}</p>` : null;
}

export function Loading({ what = 'Loading' }) {
  return html`<p class="loading" role="status">${what}…</p>`;
}

export function Badge({ value, kind = 'role' }) {
  return html`<span class=${`badge ${kind}-${value.toLowerCase()}`}>${label(value)}</span>`;
}

/** The screen's <h1>: names the document, and takes focus when the screen changes, so a screen reader hears where it is. */
export function PageHeading({ children, title = children }) {
  const ref = useRef();
  useEffect(() => {
    document.title = `${title} · orgql`;
    ref.current.focus({ preventScroll: true });
  }, [title]);
  return html`<h1 ref=${ref} tabindex="-1">${children}</h1>`;
}

/**
 * A modal dialog (the native <dialog>: the rest of the page is inert and
 * Escape closes it). Shown while mounted; when it goes, focus returns to
 * what opened it, or to the page heading if that is gone (a removed row).
 */
export function Dialog({ title, onClose, wide = false, children }) {
  const ref = useRef();
  const titleId = useId('dialog');
  useEffect(() => {
    const opener = document.activeElement;
    const dialog = ref.current;
    dialog.showModal();
    // Start where the work is: the first field, or else Cancel (the safe
    // choice in a confirmation), rather than the close button at the top.
    (dialog.querySelector('input, select, textarea') ?? dialog.querySelector('.buttons button'))?.focus();
    return () => (opener?.isConnected ? opener : document.querySelector('h1'))?.focus();
  }, []);
  return html`<dialog ref=${ref} class=${wide ? 'wide' : ''} aria-labelledby=${titleId} onClose=${onClose}>
    <div class="dialog-header">
      <h2 id=${titleId}>${title}</h2>
      <button type="button" class="icon" aria-label="Close" onClick=${onClose}>×</button>
    </div>
    ${children}
  </dialog>`;
}

/**
 * A form that does one piece of work: `onSubmit(formData, submitterValue)`
 * does it and resolves to what `onDone` gets (the sentence that says what
 * happened, for the dialogs). While it runs the buttons are disabled; a
 * failure is shown beside them. `buttons`: [{ label, value?, danger? }],
 * the first one is the default; `onCancel` adds a Cancel button.
 */
export function ActionForm({ buttons, onSubmit, onDone, onCancel, children }) {
  const action = useAction();
  function submit(event) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const value = event.submitter?.value;
    action.run(async () => onDone(await onSubmit(form, value)));
  }
  return html`<form class="stack" onSubmit=${submit} aria-busy=${action.busy}>
    ${children}
    <${ErrorText} error=${action.error} />
    <div class="buttons">
      ${onCancel && html`<button type="button" onClick=${onCancel}>Cancel</button>`}
      ${buttons.map(
        ({ label: text, value, danger }, i) =>
          html`<button type="submit" key=${text} value=${value} class=${danger ? 'danger' : i === 0 ? 'primary' : ''} disabled=${action.busy}>${text}</button>`,
      )}
    </div>
  </form>`;
}

/** An ActionForm in a Dialog: `onDone` gets the result once the work succeeded (and should close it). */
export function ActionDialog({ title, onClose, ...form }) {
  return html`<${Dialog} title=${title} onClose=${onClose}>
    <${ActionForm} ...${form} onCancel=${onClose} />
  </${Dialog}>`;
}

/**
 * The dialog a screen has open: `show({ Dialog, ...props })` opens one,
 * rendered by <OpenDialog>; `done(message)` closes it and hands the
 * sentence that says what happened to `notify`.
 */
export function useDialog(notify) {
  const [open, setOpen] = useState(null);
  const close = () => setOpen(null);
  const done = (message) => {
    close();
    notify(message);
  };
  return { open, show: setOpen, close, done };
}

export function OpenDialog({ dialog: { open, close, done } }) {
  if (!open) return null;
  const { Dialog: Opened, ...props } = open;
  return html`<${Opened} ...${props} onDone=${done} onClose=${close} />`;
}

/** Previous / Next for a connection paged with usePages(). */
export function Pager({ pages, pageInfo, what }) {
  if (!pages.hasPrevious && !pageInfo.hasNextPage) return null;
  return html`<nav class="pager" aria-label=${`${what} pages`}>
    <button type="button" disabled=${!pages.hasPrevious} onClick=${pages.previous}>← Previous</button>
    <button type="button" disabled=${!pageInfo.hasNextPage} onClick=${() => pages.next(pageInfo.endCursor)}>Next →</button>
  </nav>`;
}

/** Text for screen readers only (a button's full name: "Role" of which member). */
export const Hidden = ({ children }) => html`<span class="visually-hidden">${children}</span>`;

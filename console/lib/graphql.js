// GraphQL over HTTP, as any client of orgql speaks it: POST /graphql with a
// JSON body (or a multipart upload), the session's bearer token in the
// Authorization header. A response with errors becomes an ApiError.

import { session } from './session.js';

const ENDPOINT = '/graphql';

/** An API failure, in words for the person at the screen; `code` is orgql's extensions.code. */
export class ApiError extends Error {
  constructor(errors) {
    const [first] = errors;
    super(plainWords(first));
    this.name = 'ApiError';
    this.code = first.extensions?.code;
    this.errors = errors;
  }
}

const PERMISSION_NAMES = {
  MANAGE_ORGANIZATION: 'Manage organization',
  MANAGE_BILLING: 'Manage billing',
  VIEW_BILLING: 'View billing',
  MANAGE_MEMBERS: 'Manage members',
  UPDATE_MEMBERS: 'Update members',
  VIEW_MEMBERS: 'View members',
  MANAGE_RESOURCES: 'Manage resources',
  TRANSFER_OWNERSHIP: 'Transfer ownership',
};

function sentence(text) {
  const trimmed = text.trim();
  const capital = trimmed.charAt(0).toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

// orgql's messages are already meant for people ("the password must be at
// least 8 characters"); a few codes say more than the message does.
function plainWords({ message, extensions = {} }) {
  switch (extensions.code) {
    case 'FORBIDDEN':
      return extensions.permission
        ? `Your role does not allow this: it needs the “${PERMISSION_NAMES[extensions.permission] ?? extensions.permission}” permission.`
        : sentence(message);
    case 'LIMIT_EXCEEDED':
      // retryAfter (seconds) comes with the limit on attempts at a password or a token.
      return extensions.retryAfter ? `Too many attempts from this address. Try again in ${extensions.retryAfter} s.` : sentence(message);
    case 'INTERNAL_SERVER_ERROR':
      return 'Something went wrong on the server. Please try again in a moment.';
    case 'NETWORK':
      return message;
    default:
      return sentence(message);
  }
}

async function post(body, headers, signal) {
  const token = session.token;
  if (token) headers.authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(ENDPOINT, {
      method: 'POST',
      headers: { accept: 'application/graphql-response+json, application/json', ...headers },
      body,
      signal,
    });
  } catch (error) {
    if (error.name === 'AbortError') throw error;
    throw new ApiError([{ message: 'Could not reach the server. Check your connection and try again.', extensions: { code: 'NETWORK' } }]);
  }
  const result = await response.json().catch(() => null);
  if (!result) {
    throw new ApiError([{ message: `the server answered HTTP ${response.status} without a GraphQL response` }]);
  }
  if (result.errors?.length) {
    const error = new ApiError(result.errors);
    // A token that no longer signs in (logged out elsewhere, expired) ends this session.
    if (token && error.code === 'UNAUTHENTICATED') session.end('Your session has ended. Please sign in again.');
    throw error;
  }
  return result.data;
}

/** Runs a query or mutation; resolves to its `data`, rejects with ApiError. */
export function request(query, variables = {}, { signal } = {}) {
  return post(JSON.stringify({ query, variables }), { 'content-type': 'application/json' }, signal);
}

/**
 * Runs an operation with files, as a GraphQL multipart request
 * (github.com/jaydenseric/graphql-multipart-request-spec): `files` maps a
 * variable path such as "input.file" to a File.
 */
export function upload(query, variables, files, { signal } = {}) {
  const form = new FormData();
  const paths = Object.keys(files);
  form.append('operations', JSON.stringify({ query, variables }));
  form.append('map', JSON.stringify(Object.fromEntries(paths.map((path, i) => [i, [`variables.${path}`]]))));
  paths.forEach((path, i) => form.append(String(i), files[path]));
  // orgql reads a multipart body only with this header, which a form on
  // another site cannot send: the CSRF rule. The browser sets the boundary.
  return post(form, { 'graphql-preflight': '1' }, signal);
}

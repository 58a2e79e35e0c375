// Hash routes inside /console (#/org/acme/members), so that the server needs
// no route per screen. The invitation link's page is the one real path.

import { useEffect, useState } from '../vendor/htm-preact-standalone.mjs';

export const ACCEPT_PATH = '/invitations/accept';

/**
 * The screen the hash names: { name: 'organizations' } or { name:
 * 'organization', slug, tab }. Slugs are lower-case letters, digits and
 * hyphens, so they need no escaping.
 */
function parse(hash) {
  const [first, slug, tab = 'members'] = hash.replace(/^#\/?/, '').split('/');
  return first === 'org' && slug ? { name: 'organization', slug, tab } : { name: 'organizations' };
}

export const href = {
  organizations: () => '#/',
  organization: (slug, tab = 'members') => `#/org/${slug}/${tab}`,
};

export function navigate(hash) {
  location.hash = hash;
}

/** The current route, re-rendering on every hash change. */
export function useRoute() {
  const [route, setRoute] = useState(() => parse(location.hash));
  useEffect(() => {
    const update = () => setRoute(parse(location.hash));
    window.addEventListener('hashchange', update);
    return () => window.removeEventListener('hashchange', update);
  }, []);
  return route;
}

// What the screens of a signed-in session share.

import { createContext, useContext } from '../vendor/htm-preact-standalone.mjs';

/** { user, socket, viewerEvents, signOut }: set once signed in. */
export const Session = createContext(null);

/**
 * The open organization: { organization, can(permission), revision,
 * refresh(), notify(message) }. `can` reads viewerPermissions as the last
 * live event left them; `revision` changes whenever the organization did.
 */
export const Organization = createContext(null);

export const useSession = () => useContext(Session);
export const useOrganization = () => useContext(Organization);
